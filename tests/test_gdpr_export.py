"""Export of everything held about a startup or a contact (GDPR Art. 15/20): a zip with
data.json and the documents' files."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from crm.core.enums import ActivityKind, Role
from crm.documents.models import Document
from tests.conftest import fresh
from tests.gdpr_helpers import (
    PERSON_NAME,
    Applied,
    applied_startup,
    intake_programme,
    manager_client,
)
from tests.helpers import audit_events, post
from tests.test_intake import APPLICANT, COMPANY, PDF


@pytest.fixture
def applied(client, db, make_user) -> Applied:
    return applied_startup(client, db, intake_programme(db, make_user))


def _zip_of(response) -> tuple[dict, zipfile.ZipFile]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    return json.loads(archive.read("data.json")), archive


def test_a_manager_downloads_everything_held_about_the_startup(app, db, applied, make_user):
    staff = manager_client(app, make_user)
    startup_id = applied.startup.id

    response = post(staff, f"/startups/{startup_id}/privacy/export",
                    token_from=f"/startups/{startup_id}/privacy")

    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="startup-')
    assert "Bengaluru" not in disposition
    assert response.headers["Cache-Control"] == "no-store"
    data, archive = _zip_of(response)
    assert data["startup"]["name"] == COMPANY["name"]
    assert data["startup"]["sectors"] == ["Industry 4.0", "MedTech"]
    assert "search_text" not in data["startup"]
    assert [contact["email"] for contact in data["contacts"]] == [APPLICANT]
    assert data["applications"][0]["answers"]["company"]["city"] == "Bengaluru"
    assert "link_token_hash" not in data["applications"][0]
    assert {record["contact_id"] for record in data["consent_records"]} == {
        None, applied.contact.id}
    assert data["enrollments"][0]["stage"] == "intake"
    assert data["stage_events"][0]["note"] == f"Spoke to {PERSON_NAME}"
    assert data["checklist_items"] and data["tasks"]
    assert data["activities"][0]["kind"] == ActivityKind.CALL.value
    assert APPLICANT in {email["to_address"] for email in data["emails"]}
    document = data["documents"][0]
    assert document["filename"] == "deck.pdf" and "storage_key" not in document
    assert archive.read(document["file"]) == PDF
    event = audit_events(db, "gdpr.exported", startup_id=startup_id)[0]
    assert event.details == {"documents": 1}


def test_a_contacts_export_holds_their_data_only(app, db, applied, make_user):
    staff = manager_client(app, make_user, Role.ADMIN)
    path = f"/startups/{applied.startup.id}/contacts/{applied.contact.id}/privacy/export"

    data, archive = _zip_of(post(staff, path, token_from=f"/startups/{applied.startup.id}"
                                                         "/privacy"))

    assert data["contact"]["name"] == PERSON_NAME and data["contact"]["email"] == APPLICANT
    assert data["startup"] == {"id": applied.startup.id}
    assert [application["email"] for application in data["applications"]] == [APPLICANT]
    assert {email["to_address"] for email in data["emails"]} == {APPLICANT}
    assert sorted(archive.namelist()) == sorted(
        ["data.json", *(entry["file"] for entry in data["documents"])])
    assert archive.read(data["documents"][0]["file"]) == PDF
    assert fresh(db).get(Document, data["documents"][0]["id"]) is not None


def test_bd_managers_may_not_export(app, db, applied, make_user):
    owner = manager_client(app, make_user, Role.BD_MANAGER)

    response = post(owner, f"/startups/{applied.startup.id}/privacy/export")

    assert response.status_code == 403
    assert audit_events(db, "gdpr.exported") == []
