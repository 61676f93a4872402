"""Uploaded files: their content up to a size cap, the name the browser sent, stored files that
belong to the transaction which wrote (or retired) them, and the header that downloads them."""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from werkzeug.datastructures import FileStorage

_CHUNK = 64 * 1024
_NEW_FILES = "uploads.new_files"  # Session.info: files written in this transaction
_DONE_FILES = "uploads.done_files"  # Session.info: files to delete once this transaction commits


def read_capped(file_storage: FileStorage, max_bytes: int) -> bytes:
    """At most one byte more than `max_bytes`, so an oversize file is known without reading it
    all."""
    chunks, remaining = [], max_bytes + 1
    while remaining > 0:
        chunk = file_storage.stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def sent_name(name: str) -> str:
    """The file name a browser sent without its folders (either kind of slash), control
    characters and surrounding spaces or dots; possibly empty."""
    name = PureWindowsPath(PurePosixPath(name).name).name
    return "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")


def content_disposition(name: str, fallback: str = "download") -> str:
    """`attachment` with the name twice: plain ASCII for old clients (`filename`, anything but
    letters, digits and ``._-()+ `` replaced) and exactly (`filename*`, RFC 8187 percent-encoded),
    so no stored name can end the header, add a parameter or name a folder."""
    name = sent_name(name) or fallback
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(char if char.isalnum() or char in "._-()+ " else "_"
                         for char in ascii_name).strip(" .") or fallback
    return (f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}")


def keep_if_committed(session: OrmSession, path: Path) -> None:
    """A file just written for this transaction: removed again unless the transaction commits."""
    session.info.setdefault(_NEW_FILES, []).append(path)


def delete_when_committed(session: OrmSession, path: Path) -> None:
    """A file nothing will need once this transaction commits: removed then, kept otherwise."""
    session.info.setdefault(_DONE_FILES, []).append(path)


@event.listens_for(OrmSession, "after_commit")
def _settle_files(session: OrmSession) -> None:
    session.info.pop(_NEW_FILES, None)
    for path in session.info.pop(_DONE_FILES, []):
        path.unlink(missing_ok=True)


@event.listens_for(OrmSession, "after_transaction_end")
def _remove_uncommitted_files(session: OrmSession, transaction) -> None:
    if transaction.parent is not None:  # a savepoint ended; the outer transaction goes on
        return
    session.info.pop(_DONE_FILES, None)
    for path in session.info.pop(_NEW_FILES, []):  # still here: rolled back or closed
        path.unlink(missing_ok=True)
