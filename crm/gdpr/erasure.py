"""Erasure (GDPR Art. 17) of a contact or a whole startup: personal data anonymised or deleted,
the anonymous pipeline history kept for statistics.

Kept: the rows of enrollments, stage events, checklist items, applications, activities and
tasks with their programme, stages, statuses and dates (the figures in reports), the startup's
country, sectors, size, funding stage, status and owner, and consent records (version and time
only: the proof that consent was given). Audit events stay (the desk's accountability,
Art. 5(2); deleted after AUDIT_RETENTION_DAYS by the retention job), but the startup's and its
contacts' change history loses the values it recorded: who changed what when is kept, the old
and new names are not (the one change the database allows of an audit event). Everything
else that names the person or the startup is cleared, replaced or deleted, and the documents'
files are deleted once the transaction commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, false, func, or_, select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.audit import AuditEvent
from crm.core.enums import OutboxStatus
from crm.documents.models import Document
from crm.documents.services import delete_document
from crm.imports.models import ImportJob
from crm.intake.models import Application
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.startups.models import Activity, Contact, Startup, StartupTag, Task
from crm.startups.search import refresh_search_fields
from crm.workflow.models import ChecklistItem, Enrollment, StageEvent

ERASED = "[erased]"
ERASED_ADDRESS = "erased@invalid"  # RFC 2606: can never be delivered
_UNSENT = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING)
#: What an erased record's audit events keep of their details (see the audit_events trigger).
REDACTED_DETAILS = {"redacted": True}
_SHORTEST_SECRET = 3  # shorter strings would be replaced inside unrelated words


class ErasureRefused(Exception):
    """The record cannot be erased now; `message` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def erase_contact(db: Session, contact: Contact, actor_user_id: int,
                  now: datetime) -> dict[str, int]:
    """Anonymise the contact and remove their name, address and phone number from everything
    of their startup that mentions them. Returns what was changed, by kind (no names)."""
    startup = db.get(Startup, contact.startup_id)
    _refuse_if_restricted(startup, [contact])
    counts = _erase_people(db, startup, [contact])
    counts["history"] = _redact_history(db, "contact", [contact.id])
    refresh_search_fields(db, startup)
    startup.version += 1
    db.flush()
    audit.record(db, "gdpr.erased", actor_user_id=actor_user_id, object_type="contact",
                 object_id=contact.id, startup_id=startup.id, **counts)
    return counts


def erase_startup(db: Session, startup: Startup, actor_user_id: int,
                  now: datetime) -> dict[str, int]:
    """Anonymise the startup, its contacts and everything written about them; delete its
    documents and tags. Returns what was changed, by kind (no names)."""
    contacts = list(db.scalars(select(Contact).where(Contact.startup_id == startup.id)))
    _refuse_if_restricted(startup, contacts)
    secrets = _secrets(startup.name, startup.website, startup.domain)
    counts = _erase_people(db, startup, contacts, extra_secrets=secrets)
    applications = list(db.scalars(select(Application)
                                   .where(Application.startup_id == startup.id)))
    for application in applications:
        _drop_answers(application)
    counts["applications"] = len(applications)
    counts["documents"] = _delete_documents(db, or_(
        Document.startup_id == startup.id,
        Document.application_id.in_([application.id for application in applications])))
    counts["messages"] += scrub_messages(db, OutboxMessage.startup_id == startup.id)
    counts["activities"] = _clear_all(db, Activity, Activity.startup_id == startup.id,
                                      subject=ERASED, body="")
    counts["tasks"] = _clear_all(db, Task, Task.startup_id == startup.id, title=ERASED,
                                 description="")
    enrollment_ids = select(Enrollment.id).where(Enrollment.startup_id == startup.id)
    _clear_all(db, Enrollment, Enrollment.startup_id == startup.id, close_reason=None,
               fields={})
    _clear_all(db, StageEvent, StageEvent.enrollment_id.in_(enrollment_ids), note=None)
    _clear_all(db, ChecklistItem, ChecklistItem.enrollment_id.in_(enrollment_ids),
               evidence_note=None)
    db.execute(delete(StartupTag).where(StartupTag.startup_id == startup.id))
    _scrub_import_reports(db, startup.id)
    counts["history"] = (_redact_history(db, "startup", [startup.id])
                         + _redact_history(db, "contact", [contact.id for contact in contacts]))
    startup.name = f"Erased startup #{startup.id}"
    startup.website = startup.domain = startup.city = startup.source_detail = None
    startup.description = ""
    startup.version += 1
    refresh_search_fields(db, startup)
    db.flush()
    audit.record(db, "gdpr.erased", actor_user_id=actor_user_id, object_type="startup",
                 object_id=startup.id, **counts)
    return counts


def scrub_messages(db: Session, condition) -> int:
    """Replace the subject, body and (unless it is a staff member's) the address of the
    messages matching `condition`, drop their attachments, and give up those not sent yet."""
    messages = list(db.scalars(select(OutboxMessage).where(condition)))
    for message in messages:
        message.subject = message.body_text = ERASED
        message.body_html = None
        if message.user_id is None:
            message.to_address = ERASED_ADDRESS
        if message.status in _UNSENT:
            message.status = OutboxStatus.DEAD
            message.last_error = ERASED
            message.next_attempt_at = None
    if messages:
        db.execute(delete(OutboxAttachment).where(
            OutboxAttachment.message_id.in_([message.id for message in messages])))
    db.flush()
    return len(messages)


# The people -----------------------------------------------------------------------------


def _erase_people(db: Session, startup: Startup, contacts: list[Contact],
                  extra_secrets: Iterable[str] = ()) -> dict[str, int]:
    """Clear the contacts and every mention of them (and of `extra_secrets`) in the startup's
    free texts, applications and emails."""
    secrets = [*extra_secrets, *(secret for contact in contacts
                                 for secret in _secrets(contact.name, contact.email,
                                                        contact.phone))]
    emails = {contact.email.lower() for contact in contacts if contact.email}
    counts = {"contacts": len(contacts), "mentions": 0, "messages": 0, "applications": 0}
    pattern = _pattern(secrets)
    if pattern is not None:
        counts["mentions"] = _scrub_free_texts(db, startup.id, pattern)
    applications = list(db.scalars(select(Application).where(or_(
        Application.startup_id == startup.id,
        func.lower(Application.email).in_(emails) if emails else false()))))
    for application in applications:
        if application.email and application.email.lower() in emails:
            _drop_answers(application)
            counts["applications"] += 1
        else:
            application.answers = _without_people(application.answers, emails, pattern)
    if emails:
        counts["messages"] = scrub_messages(db, func.lower(OutboxMessage.to_address).in_(emails))
    if pattern is not None:
        counts["messages"] += _scrub_mentions_in_messages(db, startup.id, pattern)
    for contact in contacts:
        contact.name = f"Erased contact #{contact.id}"
        contact.email = contact.phone = contact.role = None
        contact.version += 1
    db.flush()
    return counts


def _secrets(*values: str | None) -> list[str]:
    return [value for value in values if value and len(value.strip()) >= _SHORTEST_SECRET]


def _pattern(secrets: list[str]) -> re.Pattern | None:
    if not secrets:
        return None
    alternatives = sorted({re.escape(secret.strip()) for secret in secrets}, key=len,
                          reverse=True)
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _scrub(value: Any, pattern: re.Pattern) -> Any:
    """The value with every match replaced, walking into JSON lists and objects."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, pattern) for key, item in value.items()}
    return value


def _scrub_free_texts(db: Session, startup_id: int, pattern: re.Pattern) -> int:
    """Replace mentions in what staff wrote about the startup; how many rows changed."""
    enrollment_ids = select(Enrollment.id).where(Enrollment.startup_id == startup_id)
    changed = 0
    for model, condition, columns in (
            (Activity, Activity.startup_id == startup_id, ("subject", "body")),
            (Task, Task.startup_id == startup_id, ("title", "description")),
            (Enrollment, Enrollment.startup_id == startup_id, ("close_reason", "fields")),
            (StageEvent, StageEvent.enrollment_id.in_(enrollment_ids), ("note",)),
            (ChecklistItem, ChecklistItem.enrollment_id.in_(enrollment_ids),
             ("evidence_note",))):
        for row in db.scalars(select(model).where(condition)):
            for column in columns:
                before = getattr(row, column)
                after = _scrub(before, pattern)
                if after != before:
                    setattr(row, column, after)
                    changed += 1
    return changed


def _scrub_mentions_in_messages(db: Session, startup_id: int, pattern: re.Pattern) -> int:
    """Messages about the startup (e.g. to its owner) that name the person: replaced too."""
    mentioning = [message.id for message in db.scalars(
        select(OutboxMessage).where(OutboxMessage.startup_id == startup_id))
        if pattern.search(f"{message.subject}\n{message.body_text}\n{message.body_html or ''}")]
    return scrub_messages(db, OutboxMessage.id.in_(mentioning)) if mentioning else 0


def _without_people(answers: dict[str, Any], emails: set[str],
                    pattern: re.Pattern | None) -> dict[str, Any]:
    """An application's answers without the erased people, and their names nowhere else."""
    people = (answers.get("people") or {}).get("people")
    if isinstance(people, list):
        kept = [person for person in people
                if str(person.get("email", "")).lower() not in emails]
        answers = {**answers, "people": {**answers["people"], "people": kept}}
    return _scrub(answers, pattern) if pattern is not None else answers


def _drop_answers(application: Application) -> None:
    application.answers = {}
    application.email = None
    application.link_token_hash = None
    application.link_expires_at = None


# Whole rows -----------------------------------------------------------------------------


def _clear_all(db: Session, model, condition, **values) -> int:
    rows = list(db.scalars(select(model).where(condition)))
    for row in rows:
        for column, value in values.items():
            setattr(row, column, value)
    db.flush()
    return len(rows)


def _delete_documents(db: Session, condition) -> int:
    documents = list(db.scalars(select(Document).where(condition)))
    for document in documents:
        delete_document(db, document)
    return len(documents)


def _scrub_import_reports(db: Session, startup_id: int) -> None:
    """Import reports name the startups a row created or matched: those names go."""
    for job in db.scalars(select(ImportJob)):
        report = [_anonymous_entry(entry, startup_id) for entry in job.report]
        if report != job.report:
            job.report = report


def _anonymous_entry(entry: dict[str, Any], startup_id: int) -> dict[str, Any]:
    entry = dict(entry)
    if entry.get("id") == startup_id:
        entry["name"] = ERASED
        if "match" in entry:
            entry["match"] = ERASED
    if entry.get("similar_id") == startup_id:
        entry["similar"] = ERASED
    return entry


def _redact_history(db: Session, object_type: str, object_ids: list[int]) -> int:
    """The values the records' change history kept (old and new names, addresses) are dropped;
    who changed what when stays. The database allows this one change of an audit event."""
    if not object_ids:
        return 0
    return db.execute(update(AuditEvent)
                      .where(AuditEvent.object_type == object_type,
                             AuditEvent.object_id.in_(object_ids),
                             AuditEvent.action != "gdpr.erased")
                      .values(details=REDACTED_DETAILS)).rowcount


def _refuse_if_restricted(startup: Startup, contacts: list[Contact]) -> None:
    if startup.restricted_at is not None or any(contact.restricted_at for contact in contacts):
        raise ErasureRefused(_l("Processing is restricted: the data must be kept as it is. "
                                "Lift the restriction first if it no longer applies."))
