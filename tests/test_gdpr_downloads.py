"""The document access log: who downloaded which document when, shown to managers and admins."""

from __future__ import annotations

import io

from werkzeug.datastructures import FileStorage

from crm.core.enums import Role
from crm.db import get_session
from crm.documents.services import store_document
from tests.factories import make_startup
from tests.gdpr_helpers import manager_client
from tests.helpers import text_of
from tests.test_intake import PDF


def test_managers_see_who_downloaded_which_document(app, db, make_user):
    startup = make_startup(db, "Seoul Sensors")
    with app.app_context():
        session = get_session()
        document = store_document(session, startup.id, FileStorage(
            io.BytesIO(PDF), filename="visa-papers.pdf"), None)
        session.commit()
    reader = make_user(Role.BD_MANAGER, name="Mira Kaur")
    reader_client = manager_client(app, lambda role: reader)
    manager = manager_client(app, make_user)
    page = f"/startups/{startup.id}"
    assert "Document downloads" not in text_of(manager.get(page))

    assert reader_client.get(f"/documents/{document.id}").get_data() == PDF

    for path in (page, f"{page}/privacy"):
        shown = text_of(manager.get(path))
        assert "Document downloads" in shown
        downloads = shown[shown.index("Document downloads"):]
        assert "Mira Kaur" in downloads and "visa-papers.pdf" in downloads
    assert "Document downloads" not in text_of(reader_client.get(page))
