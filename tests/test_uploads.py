"""Uploads are judged by content and size, never by name; stored names are safe; downloads are
attachments whose Content-Disposition no name can break."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pytest
from sqlmodel import select
from werkzeug.datastructures import FileStorage

from crm.core.enums import Role
from crm.core.uploads import content_disposition, sent_name
from crm.db import get_session
from crm.documents.models import Document
from crm.documents.services import MAX_DOCUMENT_BYTES, DocumentRejected, store_document
from tests import test_intake
from tests.conftest import csrf_token, fresh
from tests.helpers import count, text_of
from tests.test_intake import PDF, fill_in, upload

programme = test_intake.programme  # the fixture: a programme with an application form

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16
NOT_WHAT_THEY_CLAIM = {
    "an exe named .pdf": (b"MZ\x90\x00\x03\x00\x00\x00This program cannot be run", "deck.pdf"),
    "HTML named .png": (b"<html><script>alert(1)</script></html>", "photo.png"),
    "SVG with script named .png": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
                                   "logo.png"),
    "HTML before a PDF header": (b"<html><body>hi</body></html>\n%PDF-1.7\n%%EOF", "deck.pdf"),
    "a PDF header not at the start": (b" %PDF-1.7\n%%EOF", "deck.pdf"),
    "a zip named .pdf": (b"PK\x03\x04" + b"\x00" * 26, "deck.pdf"),
}


def stored_files(settings) -> list:
    folder = settings.upload_folder
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@pytest.fixture
def applicant(client, programme):
    """A browser with an application at the review step (its pitch deck uploaded)."""
    fill_in(client, programme)
    return client


@pytest.mark.parametrize("case", list(NOT_WHAT_THEY_CLAIM))
def test_a_file_is_judged_by_its_content_not_its_name(applicant, programme, db, settings, case):
    content, name = NOT_WHAT_THEY_CLAIM[case]
    documents, files = count(db, Document), len(stored_files(settings))

    response = upload(applicant, programme, "company_papers", content, name)

    assert response.status_code == 422
    assert "Only PDF, PNG and JPEG files are accepted" in text_of(response)
    assert 'class="field field-error"' in response.get_data(as_text=True)
    assert count(db, Document) == documents and len(stored_files(settings)) == files


def test_the_pitch_deck_must_be_a_pdf_even_when_a_png_is_fine_elsewhere(applicant, programme,
                                                                        db):
    documents = count(db, Document)

    refused = upload(applicant, programme, "pitch_deck", PNG, "deck.pdf")
    accepted = upload(applicant, programme, "company_papers", PNG, "register.pdf")

    assert refused.status_code == 422 and "Only PDF files are accepted here" in text_of(refused)
    assert accepted.status_code == 302
    stored = fresh(db).scalars(select(Document).order_by(Document.id.desc())).first()
    assert (stored.content_type, stored.filename) == ("image/png", "register.png")
    assert count(db, Document) == documents + 1


def test_an_empty_file_is_refused(applicant, programme, db):
    documents = count(db, Document)

    response = upload(applicant, programme, "company_papers", b"", "empty.pdf")

    assert response.status_code == 422 and "The file is empty." in text_of(response)
    assert count(db, Document) == documents


def test_a_file_over_the_cap_is_refused_without_reading_it_all(app, db, settings):
    class EndlessPdf(io.RawIOBase):
        """A PDF of 200 MB that is never in memory: it counts what was read."""

        size, position = 200 * 1024 * 1024, 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            length = min(len(buffer), self.size - self.position)
            chunk = (b"%PDF-1.7\n" if self.position == 0 else b"") + b"0" * length
            buffer[:length] = chunk[:length]
            self.position += length
            return length

    stream = EndlessPdf()
    with app.app_context(), pytest.raises(DocumentRejected) as refused:
        store_document(get_session(), None, FileStorage(stream, filename="huge.pdf"), None)

    assert str(refused.value) == "The file is larger than 15 MB."
    assert stream.position <= MAX_DOCUMENT_BYTES + 64 * 1024
    assert count(db, Document) == 0 and stored_files(settings) == []


def test_a_request_over_the_limit_is_refused_before_the_view(applicant, programme, db):
    documents = count(db, Document)

    response = upload(applicant, programme, "company_papers",
                      PDF + b"0" * (21 * 1024 * 1024), "big.pdf")

    assert response.status_code == 413 and "What you sent is too large." in text_of(response)
    assert count(db, Document) == documents


def upload_named(client, programme, name: str, content: bytes = PDF):
    """Upload with the file name exactly as a client may send it (UTF-8, quotes and backslashes
    escaped, control characters raw): Werkzeug's test client would change such names itself."""
    token = csrf_token(client, f"/apply/{programme.key}/documents")
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    body = b"".join([
        b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
        token.encode(), b"\r\n",
        b'--B\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncompany_papers\r\n',
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="',
        quoted.encode(), b'"\r\nContent-Type: application/octet-stream\r\n\r\n', content,
        b"\r\n--B--\r\n"])
    return client.post(f"/apply/{programme.key}/documents/upload", data=body,
                       content_type="multipart/form-data; boundary=B")


@pytest.mark.parametrize(("sent", "kept"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\Windows\\win.ini.pdf", "win.ini.pdf"),
    ("C:\\Users\\ana\\deck.pdf", "deck.pdf"),
    ("deck\x1b[31m\x7f\x08.pdf", "deck[31m.pdf"),
    ("\u202efdp.exe", "fdp.pdf"),  # a right-to-left override would show "exe.pdf"
    ('quote"; filename="evil.html', 'quote"; filename="evil.pdf'),
    ("Präsentation 日本 🚀.pdf", "Präsentation 日本 🚀.pdf"),
    ("..", "document.pdf"),
    ("deck.html", "deck.pdf"),
])
def test_a_stored_name_has_no_folders_or_control_characters_and_downloads_safely(
        app, applicant, programme, db, settings, client_as, sent, kept):
    response = upload_named(applicant, programme, sent)
    assert response.status_code == 302, text_of(response)
    document = fresh(db).scalars(select(Document).order_by(Document.id.desc())).first()
    assert document.filename == kept
    assert all(path.parent.parent == settings.upload_folder
               and path.name in {d.storage_key for d in fresh(db).scalars(select(Document))}
               for path in stored_files(settings))

    staff, _ = client_as(Role.VIEWER)
    download = staff.get(f"/documents/{document.id}")

    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "no-store"
    assert_safe_disposition(download.headers["Content-Disposition"], kept)


def assert_safe_disposition(header: str, name: str) -> None:
    """`attachment; filename="<ASCII>"; filename*=UTF-8''<exact name>`, one line."""
    assert "\r" not in header and "\n" not in header
    found = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'([^\s";]+)',
                         header)
    assert found, header
    ascii_name, exact = found.groups()
    assert ascii_name.isascii() and ascii_name.isprintable() and "/" not in ascii_name
    assert unquote(exact) == name  # what browsers use (RFC 6266 prefers filename*)


@pytest.mark.parametrize(("sent", "kept"), [
    ("..\\..\\Windows\\win.ini", "win.ini"), ("a/b\\c.pdf", "c.pdf"),
    ("line\r\nbreak.pdf", "linebreak.pdf"), (" .hidden. ", "hidden"), ("\x00", ""),
])
def test_a_sent_name_keeps_no_folder_or_control_character(sent, kept):
    assert sent_name(sent) == kept


@pytest.mark.parametrize("name", [
    "deck.pdf", 'a"b.pdf', "a\\b.pdf", "line\r\nSet-Cookie: x=y.pdf", "日本語.pdf", "",
    "; filename=evil.exe", "%0d%0aX: y.pdf", "résumé.pdf", "..",
])
def test_content_disposition_holds_any_name(name):
    header = content_disposition(name)

    found = re.fullmatch(r'attachment; filename="([^"\\\r\n]*)"; filename\*=UTF-8\'\'([^\s";]+)',
                         header)
    assert found, header
    assert "\r" not in unquote(found.group(2)) and "/" not in unquote(found.group(2))
    assert found.group(1).strip() and found.group(1).isascii()
