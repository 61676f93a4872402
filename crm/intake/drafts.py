"""An applicant's draft: started, saved step by step, resumed by a link, withdrawn."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy.orm import defer
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, Language
from crm.core.tokens import hash_token, new_token
from crm.documents.models import Document
from crm.documents.services import DocumentRejected, delete_document, store_document
from crm.gdpr import consent
from crm.intake.models import Application
from crm.intake.steps import (
    COMPANY_PAPERS,
    MAX_COMPANY_PAPERS,
    PITCH_DECK,
    REQUIRED_STEPS,
    STEP_KEYS,
)
from crm.outbox.services import queue_email
from crm.programmes.models import Programme, ProgrammeVersion
from crm.workflow.definitions import IntakeDefinition
from crm.workflow.engine import current_version

LINK_VALID_FOR = timedelta(days=7)


# The programme's form ---------------------------------------------------------------------


def intake_of(db: Session, programme: Programme) -> IntakeDefinition | None:
    """The programme's public form as its current definition describes it (None: no form)."""
    if programme.current_version == 0:
        return None
    return current_version(db, programme).parsed.intake


def closed_reason(programme: Programme, intake: IntakeDefinition | None,
                  now: datetime | None = None):
    """Why the programme takes no applications now (a message), or None if it does."""
    if intake is None:
        return _l("This programme does not take applications through this form.")
    today = (now or utcnow()).astimezone(current_app.config["SETTINGS"].tz).date()
    if not programme.is_active or not intake.open or (intake.closes_on
                                                      and today > intake.closes_on):
        return _l("This programme is not taking applications at the moment.")
    return None


#: Joins a programme to the version new enrollments (and applications) use.
CURRENT_VERSION = and_(ProgrammeVersion.programme_id == Programme.id,
                       ProgrammeVersion.number == Programme.current_version)


def open_programmes(db: Session, now: datetime | None = None) -> list[Programme]:
    """Programmes whose form takes applications now, by name (one query)."""
    rows = db.execute(select(Programme, ProgrammeVersion).join(ProgrammeVersion, CURRENT_VERSION)
                      .where(Programme.is_active).options(defer(ProgrammeVersion.source_text))
                      .order_by(Programme.name_en)).all()
    return [programme for programme, version in rows
            if closed_reason(programme, version.parsed.intake, now) is None]


# Starting and resuming --------------------------------------------------------------------


def start_application(db: Session, programme: Programme, *, email: str, locale: Language,
                      answers: dict[str, Any] | None = None, startup_id: int | None = None,
                      invited_by_id: int | None = None, send_link: bool = True,
                      now: datetime | None = None) -> Application:
    """A new draft for this address, and an email with the link to continue it anywhere
    (not `send_link`: a draft filled in and submitted at once, by the API, needs none)."""
    now = now or utcnow()
    application = Application(programme_id=programme.id, email=email, locale=locale,
                              answers=answers or {}, last_activity_at=now,
                              startup_id=startup_id, invited_by_id=invited_by_id)
    application.step = next_step(application)
    db.add(application)
    db.flush()
    if send_link:
        send_resume_link(db, application, programme,
                         template="intake/invitation" if invited_by_id else "intake/resume_link",
                         now=now)
    audit.record(db, "application.invited" if invited_by_id else "application.started",
                 actor_user_id=invited_by_id, object_type="application",
                 object_id=application.id, programme_id=programme.id, startup_id=startup_id)
    return application


def new_resume_link(db: Session, application: Application, now: datetime | None = None) -> str:
    """A fresh link to the draft (its URL, to be emailed); the link before it stops working."""
    now = now or utcnow()
    token, token_hash = new_token()
    application.link_token_hash = token_hash
    application.link_expires_at = now + LINK_VALID_FOR
    db.flush()
    return f"{current_app.config['SETTINGS'].base_url}/apply/resume/{token}"


def send_resume_link(db: Session, application: Application, programme: Programme, *,
                     template: str = "intake/resume_link", now: datetime | None = None) -> None:
    """Queue an email with a fresh link to the draft; the link before it stops working."""
    resume_url = new_resume_link(db, application, now)
    queue_email(
        db, dedupe_key=f"application-link:{application.link_token_hash}",
        to_address=application.email, locale=Language(application.locale), template=template,
        context={"programme": programme, "application": application, "resume_url": resume_url,
                 "expires_at": application.link_expires_at,
                 "withdraw_url": consent.withdrawal_url(application_id=application.id)},
        startup_id=application.startup_id,
    )


def send_link_to_address(db: Session, email: str, now: datetime | None = None) -> bool:
    """A new link to the newest draft started with this address, if there is one.

    The caller answers the same either way, so the page tells nobody whether an address has
    applied."""
    now = now or utcnow()
    application = db.scalars(select(Application).where(
        Application.email == email, Application.status == ApplicationStatus.DRAFT,
    ).order_by(Application.last_activity_at.desc(), Application.id.desc()).limit(1)).first()
    if application is None:
        return False
    send_resume_link(db, application, db.get(Programme, application.programme_id), now=now)
    return True


def application_for_link(db: Session, token: str,
                         now: datetime | None = None) -> Application | None:
    """The draft this link continues, or None if the link is unknown, used or expired."""
    now = now or utcnow()
    if not token or len(token) > 100:
        return None
    application = db.scalars(select(Application).where(
        Application.link_token_hash == hash_token(token))).first()
    if (application is None or application.status != ApplicationStatus.DRAFT
            or application.link_expires_at is None or application.link_expires_at <= now):
        return None
    return application


def redeem_link(db: Session, application: Application, now: datetime | None = None) -> None:
    """The link is used up: it opened the draft in this browser once."""
    application.link_token_hash = None
    application.link_expires_at = None
    application.last_activity_at = now or utcnow()
    db.flush()


# Saving steps -----------------------------------------------------------------------------


def next_step(application: Application) -> str:
    """Where the applicant continues: the first step not saved yet, else the review."""
    return next((step for step in REQUIRED_STEPS if step not in application.answers),
                STEP_KEYS[-1])


def save_step(db: Session, application: Application, step: str, values: dict[str, Any], *,
              locale: Language, now: datetime | None = None) -> None:
    """Keep the step's checked answers; the applicant's language is the one they last used."""
    if step not in REQUIRED_STEPS:
        raise ValueError(f"not a step with answers: {step}")
    # A new dict: the JSON column notices reassignment, not changes inside.
    application.answers = {**application.answers, step: values}
    application.locale = locale
    application.step = next_step(application)
    application.last_activity_at = now or utcnow()
    db.flush()


# Documents --------------------------------------------------------------------------------


def documents_of(db: Session, application_id: int) -> list[Document]:
    return list(db.scalars(select(Document).where(Document.application_id == application_id)
                           .order_by(Document.id)))


def add_document(db: Session, application: Application, kind: str, upload: FileStorage,
                 now: datetime | None = None) -> Document:
    """Store an upload of the draft: the pitch deck (a PDF, replacing an earlier one) or one
    more company paper."""
    existing = [document for document in documents_of(db, application.id)
                if document.kind == kind]
    if kind == COMPANY_PAPERS and len(existing) >= MAX_COMPANY_PAPERS:
        raise DocumentRejected(_l("At most %(count)d company papers.", count=MAX_COMPANY_PAPERS))
    document = store_document(db, None, upload, None, application_id=application.id,
                              kind=kind, pdf_only=kind == PITCH_DECK)
    if kind == PITCH_DECK:
        for earlier in existing:
            delete_document(db, earlier)
    application.last_activity_at = now or utcnow()
    return document


def remove_document(db: Session, application: Application, document_id: int) -> bool:
    """Delete one of the draft's uploads (False if it is not one of them)."""
    document = db.get(Document, document_id)
    if document is None or document.application_id != application.id:
        return False
    audit.record(db, "document.removed", object_type="document", object_id=document.id,
                 application_id=application.id)
    delete_document(db, document)
    return True


# Withdrawing ------------------------------------------------------------------------------


def withdraw(db: Session, application: Application, now: datetime | None = None) -> None:
    """The applicant withdraws the draft: answers, address and documents are deleted."""
    if application.status != ApplicationStatus.DRAFT:
        raise ValueError("only a draft can be withdrawn")
    for document in documents_of(db, application.id):
        delete_document(db, document)
    application.status = ApplicationStatus.WITHDRAWN
    application.withdrawn_at = now or utcnow()
    application.answers = {}
    application.email = None
    application.link_token_hash = None
    application.link_expires_at = None
    db.flush()
    audit.record(db, "application.withdrawn", object_type="application",
                 object_id=application.id, programme_id=application.programme_id)
