"""Store evidence files: type checked by content, size capped, kept outside the static folder."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from crm.core import audit
from crm.core.uploads import delete_when_committed, keep_if_committed, read_capped, sent_name
from crm.documents.models import Document

MAX_DOCUMENT_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class FileKind:
    content_type: str
    suffixes: tuple[str, ...]  # the first is added to a name that lacks a fitting one
    magic: tuple[bytes, ...]


# What a file is, by its first bytes; the name a browser sends proves nothing.
PDF = FileKind("application/pdf", (".pdf",), (b"%PDF-",))
ACCEPTED_KINDS = (
    PDF,
    FileKind("image/png", (".png",), (b"\x89PNG\r\n\x1a\n",)),
    FileKind("image/jpeg", (".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
)


class DocumentRejected(Exception):
    """An upload that is not stored; `message` is translatable and safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def upload_folder() -> Path:
    return Path(current_app.config["SETTINGS"].upload_folder)


def path_of(document: Document) -> Path:
    """Where the file lies: under the upload folder, by its random key only."""
    return upload_folder() / document.storage_key[:2] / document.storage_key


def store_document(db: Session, startup_id: int | None, file_storage: FileStorage | None,
                   uploaded_by_id: int | None, *, application_id: int | None = None,
                   kind: str | None = None, pdf_only: bool = False) -> Document:
    """Check and store an uploaded PDF, PNG or JPEG (at most 15 MB) for the startup or the
    application draft (`pdf_only`: a PDF and nothing else).

    The file is written under a random name; if the transaction is rolled back afterwards, the
    file is removed again, so a refused action leaves neither a row nor a file behind.
    """
    if file_storage is None or not file_storage.filename:
        raise DocumentRejected(_l("Choose a file to upload."))
    content = read_capped(file_storage, MAX_DOCUMENT_BYTES)
    if not content:
        raise DocumentRejected(_l("The file is empty."))
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(_l("The file is larger than %(size)d MB.",
                                  size=MAX_DOCUMENT_BYTES // (1024 * 1024)))
    file_kind = _kind_of(content)
    if pdf_only and (file_kind is None or file_kind.content_type != PDF.content_type):
        raise DocumentRejected(_l("Only PDF files are accepted here; this file is not a PDF, "
                                  "whatever its name says."))
    if file_kind is None:
        raise DocumentRejected(_l("Only PDF, PNG and JPEG files are accepted; this file is "
                                  "none of them, whatever its name says."))
    document = Document(
        startup_id=startup_id,
        application_id=application_id,
        kind=kind,
        filename=_display_name(file_storage.filename, file_kind),
        content_type=file_kind.content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_key=secrets.token_hex(32),
        uploaded_by_id=uploaded_by_id,
    )
    path = path_of(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as stored:  # "x": a (vanishingly unlikely) equal key never overwrites
        stored.write(content)
    keep_if_committed(db, path)
    db.add(document)
    db.flush()
    audit.record(db, "document.uploaded", actor_user_id=uploaded_by_id, object_type="document",
                 object_id=document.id, startup_id=startup_id, application_id=application_id,
                 sha256=document.sha256,
                 size_bytes=document.size_bytes, content_type=document.content_type)
    return document


def record_download(db: Session, document: Document, user_id: int) -> Path:
    """The stored file of `document`, with an audit event saying who fetched it."""
    audit.record(db, "document.downloaded", actor_user_id=user_id, object_type="document",
                 object_id=document.id, startup_id=document.startup_id)
    return path_of(document)


def delete_document(db: Session, document: Document) -> None:
    """Delete the row, and its file once the transaction commits."""
    delete_when_committed(db, path_of(document))
    db.delete(document)
    db.flush()


def _kind_of(content: bytes) -> FileKind | None:
    return next((kind for kind in ACCEPTED_KINDS
                 if any(content.startswith(magic) for magic in kind.magic)), None)


def _display_name(name: str, kind: FileKind) -> str:
    """The sent name without folders or control characters, with a suffix fitting its content."""
    name = sent_name(name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem = suffix
    if not dot or f".{suffix.lower()}" not in kind.suffixes:
        name = f"{stem or 'document'}{kind.suffixes[0]}"
    if len(name) > 255:
        name = name[: 255 - len(kind.suffixes[0])].rstrip() + kind.suffixes[0]
    return name
