"""Consent records: given at intake (or recorded by staff), withdrawn as easily by a signed link
or by staff; a withdrawn consent stops the emails that relied on it.

What the consent covers (the text in templates/intake/_consent_text.html, version
crm.intake.submission.CONSENT_VERSION): processing the application's data to assess it and
run the programme, and emails to the applicant and the people named in it about the programme
(stage emails). Withdrawing it stops those emails to that contact at once; the application's
documents are then deleted by the retention job after RETENTION_REJECTED_DOCUMENTS_DAYS, and
staff may erase the rest (crm/gdpr/erasure.py). Staff emails about the startup (reminders to
its owner) rely on the desk's legitimate interest, not on this consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, func, or_, select
from sqlmodel import Session

from crm.core import audit
from crm.core.enums import ApplicationStatus, Language
from crm.gdpr.models import ConsentPurpose, ConsentRecord, ConsentSource
from crm.intake.models import Application
from crm.outbox.services import queue_email
from crm.startups.models import Contact

_SALT = "gdpr-consent-withdrawal"


def record_at_intake(db: Session, application: Application, contacts: Iterable[Contact],
                     version: str, now: datetime) -> list[ConsentRecord]:
    """The applicant's consent on submitting: one record for the application and one for each
    person it names (their contacts keep `consent_given_at` and `consent_text_version` too)."""
    records = [ConsentRecord(application_id=application.id, text_version=version, given_at=now)]
    records += [ConsentRecord(application_id=application.id, contact_id=contact.id,
                              text_version=version, given_at=now) for contact in contacts]
    db.add_all(records)
    db.flush()
    return records


def records_of_contact(db: Session, contact_id: int) -> list[ConsentRecord]:
    return list(db.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)
                           .order_by(ConsentRecord.given_at, ConsentRecord.id)))


def records_of_application(db: Session, application_id: int) -> list[ConsentRecord]:
    return list(db.scalars(select(ConsentRecord)
                           .where(ConsentRecord.application_id == application_id)
                           .order_by(ConsentRecord.given_at, ConsentRecord.id)))


def withdraw_records(db: Session, records: Iterable[ConsentRecord], via: ConsentSource,
                     now: datetime, actor_user_id: int | None = None) -> int:
    """Withdraw the records still in force; their contacts no longer count as consenting.
    Returns how many were withdrawn (0: nothing was in force, e.g. a second click)."""
    withdrawn = [record for record in records if record.withdrawn_at is None]
    for record in withdrawn:
        record.withdrawn_at = now
        record.withdrawn_via = via
    contact_ids = {record.contact_id for record in withdrawn if record.contact_id}
    for contact in db.scalars(select(Contact).where(Contact.id.in_(contact_ids))):
        contact.consent_given_at = None
        contact.consent_text_version = None
    db.flush()
    for record in withdrawn:
        audit.record(db, "consent.withdrawn", actor_user_id=actor_user_id,
                     object_type="consent_record", object_id=record.id,
                     contact_id=record.contact_id, application_id=record.application_id,
                     via=str(via))
    return len(withdrawn)


def withdraw_for_contact(db: Session, contact: Contact, via: ConsentSource, now: datetime,
                         actor_user_id: int | None = None) -> int:
    """The contact withdraws consent (staff record it, or the contact used a link). A contact
    with no consent on record (added by staff) gets a record of the withdrawal, so that no
    email relies on consent for them any more."""
    records = records_of_contact(db, contact.id)
    if not records:
        records = [ConsentRecord(contact_id=contact.id, text_version="none", given_at=now,
                                 source=via, recorded_by_id=actor_user_id)]
        db.add(records[0])
        db.flush()
    return withdraw_records(db, records, via, now, actor_user_id)


def withdraw_for_application(db: Session, application: Application, now: datetime) -> int:
    """The applicant withdraws through the signed link: the application's consent and that of
    everyone it named. The application counts as withdrawn from then on (its documents go by
    the retention rule for withdrawn applications)."""
    count = withdraw_records(db, records_of_application(db, application.id),
                             ConsentSource.LINK, now)
    if application.withdrawn_at is None:
        application.withdrawn_at = now
        db.flush()
    return count


def record_given_by_staff(db: Session, contact: Contact, version: str, actor_user_id: int,
                          now: datetime) -> ConsentRecord:
    """Consent given outside the form (e.g. by email), recorded by staff."""
    record = ConsentRecord(contact_id=contact.id, purpose=ConsentPurpose.APPLICATION,
                           text_version=version, given_at=now, source=ConsentSource.STAFF,
                           recorded_by_id=actor_user_id)
    db.add(record)
    contact.consent_given_at = now
    contact.consent_text_version = version
    db.flush()
    audit.record(db, "consent.recorded", actor_user_id=actor_user_id,
                 object_type="consent_record", object_id=record.id, contact_id=contact.id)
    return record


def may_email_contact():
    """A WHERE clause on Contact: not restricted, and no withdrawn consent unless given again
    since."""
    withdrawn = exists().where(ConsentRecord.contact_id == Contact.id,
                               ConsentRecord.withdrawn_at.is_not(None))
    in_force = exists().where(ConsentRecord.contact_id == Contact.id,
                              ConsentRecord.withdrawn_at.is_(None))
    return Contact.restricted_at.is_(None) & or_(~withdrawn, in_force)


# The signed link --------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def withdrawal_url(*, application_id: int | None = None, contact_id: int | None = None) -> str:
    """The link an email carries for withdrawing consent. Its token names the application or
    the contact by id only (no address or name in the URL) and does not expire: withdrawing
    must stay as easy as consenting was."""
    subject = {"application": application_id} if application_id else {"contact": contact_id}
    base_url = current_app.config["SETTINGS"].base_url
    return f"{base_url}/privacy/withdraw/{_serializer().dumps(subject)}"


def subject_of_token(db: Session, token: str) -> Application | Contact | None:
    """The application or contact a withdrawal link names, or None for a forged one."""
    if not token or len(token) > 200:
        return None
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or len(data) != 1:
        return None
    (kind, ident), = data.items()
    model = {"application": Application, "contact": Contact}.get(kind)
    return db.get(model, ident) if model and isinstance(ident, int) else None


def send_withdrawal_links(db: Session, email: str, now: datetime) -> int:
    """Email a withdrawal link for each submitted application of this address whose consent
    is still in force; how many (the caller answers the same either way, so the page tells
    nobody whether an address has applied)."""
    applications = list(db.scalars(select(Application).where(
        func.lower(Application.email) == email.lower(),
        Application.status == ApplicationStatus.SUBMITTED, Application.withdrawn_at.is_(None))))
    for application in applications:
        queue_email(db, dedupe_key=f"consent-link:{application.id}:{now.isoformat()}",
                    to_address=application.email, locale=Language(application.locale),
                    template="gdpr/withdrawal_link", context={
                        "withdraw_url": withdrawal_url(application_id=application.id),
                        "submitted_at": application.submitted_at},
                    startup_id=application.startup_id)
    return len(applications)


def withdraw_by_link(db: Session, subject: Application | Contact, now: datetime) -> int:
    """Withdraw what the link names."""
    if isinstance(subject, Application):
        return withdraw_for_application(db, subject, now)
    return withdraw_for_contact(db, subject, ConsentSource.LINK, now)
