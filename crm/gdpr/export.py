"""Export of everything held about a startup or one of its contacts (GDPR Art. 15 and 20): a zip
with `data.json` and the documents' files under `documents/`.

Built in the request, not by a worker: one startup's data is a few hundred rows and its
documents at most 15 MB each, so the zip is written to a temporary file (spilling to disk past
a few MB, never held whole in memory) in a few seconds at most; a person asking for their data
gets it at once, and no copy of it is left lying in the upload folder afterwards.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import date, datetime
from enum import Enum
from typing import IO, Any

from sqlalchemy import false, func, or_, select
from sqlmodel import Session, SQLModel

from crm.core import audit
from crm.documents.models import Document
from crm.documents.services import path_of
from crm.gdpr.models import ConsentRecord
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.workflow.models import ChecklistItem, Enrollment, StageEvent

FORMAT_VERSION = 1
_SPILL_BYTES = 8 * 1024 * 1024
# Kept out of the export: secrets of the desk's own, not data about the person.
_INTERNAL = {"link_token_hash", "storage_key", "search_text", "name_key", "name_skeleton",
             "version", "revision"}


def startup_export(db: Session, startup: Startup, actor_user_id: int,
                   now: datetime) -> IO[bytes]:
    """The zip for the startup: its profile, contacts and everything hanging off them."""
    contacts = list(db.scalars(select(Contact).where(Contact.startup_id == startup.id)
                               .order_by(Contact.id)))
    emails = [contact.email.lower() for contact in contacts if contact.email]
    applications = _applications(db, or_(Application.startup_id == startup.id,
                                         _email_in(Application.email, emails)))
    enrollments = list(db.scalars(select(Enrollment).where(Enrollment.startup_id == startup.id)
                                  .order_by(Enrollment.id)))
    enrollment_ids = [enrollment.id for enrollment in enrollments]
    documents = _documents(db, or_(
        Document.startup_id == startup.id,
        Document.application_id.in_([application.id for application in applications])))
    data = {
        "startup": {**_row(startup), "sectors": _values(db, StartupSector.sector,
                                                        StartupSector.startup_id, startup.id),
                    "tags": _values(db, StartupTag.tag, StartupTag.startup_id, startup.id)},
        "contacts": [_row(contact) for contact in contacts],
        "consent_records": _rows(db, ConsentRecord, or_(
            ConsentRecord.contact_id.in_([contact.id for contact in contacts]),
            ConsentRecord.application_id.in_([item.id for item in applications]))),
        "enrollments": [_row(enrollment) for enrollment in enrollments],
        "stage_events": _rows(db, StageEvent, StageEvent.enrollment_id.in_(enrollment_ids)),
        "checklist_items": _rows(db, ChecklistItem,
                                 ChecklistItem.enrollment_id.in_(enrollment_ids)),
        "activities": _rows(db, Activity, Activity.startup_id == startup.id),
        "tasks": _rows(db, Task, Task.startup_id == startup.id),
        "applications": [_row(application) for application in applications],
        "documents": [_document_entry(document) for document in documents],
        "emails": _rows(db, OutboxMessage, or_(OutboxMessage.startup_id == startup.id,
                                               _email_in(OutboxMessage.to_address, emails))),
    }
    audit.record(db, "gdpr.exported", actor_user_id=actor_user_id, object_type="startup",
                 object_id=startup.id, documents=len(documents))
    return _zip(data, documents, now)


def contact_export(db: Session, contact: Contact, actor_user_id: int,
                   now: datetime) -> IO[bytes]:
    """The zip for one person: their contact record, consents, the applications sent with
    their address (with their documents) and the emails sent to them."""
    emails = [contact.email.lower()] if contact.email else []
    applications = _applications(db, _email_in(Application.email, emails))
    documents = _documents(db, Document.application_id.in_(
        [application.id for application in applications]))
    data = {
        "contact": _row(contact),
        "startup": {"id": contact.startup_id},
        "consent_records": _rows(db, ConsentRecord, or_(
            ConsentRecord.contact_id == contact.id,
            ConsentRecord.application_id.in_([item.id for item in applications]))),
        "applications": [_row(application) for application in applications],
        "documents": [_document_entry(document) for document in documents],
        "emails": _rows(db, OutboxMessage, _email_in(OutboxMessage.to_address, emails)),
    }
    audit.record(db, "gdpr.exported", actor_user_id=actor_user_id, object_type="contact",
                 object_id=contact.id, startup_id=contact.startup_id,
                 documents=len(documents))
    return _zip(data, documents, now)


def archive_name(kind: str, ident: int, now: datetime) -> str:
    """The download's name: ids and a date only, never a person's or startup's name."""
    return f"{kind}-{ident}-data-{now:%Y-%m-%d}.zip"


# Reading --------------------------------------------------------------------------------


def _email_in(column, emails: list[str]):
    return func.lower(column).in_(emails) if emails else false()


def _applications(db: Session, condition) -> list[Application]:
    return list(db.scalars(select(Application).where(condition).order_by(Application.id)))


def _documents(db: Session, condition) -> list[Document]:
    return list(db.scalars(select(Document).where(condition).order_by(Document.id)))


def _rows(db: Session, model: type[SQLModel], condition) -> list[dict[str, Any]]:
    return [_row(row) for row in db.scalars(select(model).where(condition)
                                            .order_by(model.id))]


def _values(db: Session, column, key, ident: int) -> list[str]:
    return sorted(db.scalars(select(column).where(key == ident)))


def _row(row: SQLModel) -> dict[str, Any]:
    return {column.name: _plain(getattr(row, column.name)) for column in row.__table__.columns
            if column.name not in _INTERNAL}


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return None
    return value


def _document_entry(document: Document) -> dict[str, Any]:
    return {**_row(document), "file": _member_name(document)}


def _member_name(document: Document) -> str:
    """`documents/<id>-<name>`: the id keeps equal names apart; the name was cleaned on upload
    (no folders, no control characters)."""
    return f"documents/{document.id}-{document.filename}"


# Writing --------------------------------------------------------------------------------


def _zip(data: dict[str, Any], documents: list[Document], now: datetime) -> IO[bytes]:
    # Handed to send_file, which closes it after the response.
    archive = tempfile.SpooledTemporaryFile(max_size=_SPILL_BYTES)  # noqa: SIM115
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        manifest = {"format_version": FORMAT_VERSION, "exported_at": now.isoformat(), **data}
        zipped.writestr("data.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        for document in documents:
            path = path_of(document)
            if path.is_file():
                zipped.write(path, _member_name(document))
    archive.seek(0)
    return archive
