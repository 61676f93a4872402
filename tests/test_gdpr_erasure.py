"""Erasure (GDPR Art. 17): after it, the old name, address and phone number are nowhere in the
database but the audit trail, and the anonymous pipeline history is still there."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import JSON, String, Text, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.documents.models import Document
from crm.documents.services import path_of
from crm.models import metadata
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup
from crm.workflow.models import Enrollment, StageEvent
from tests.conftest import fresh
from tests.gdpr_helpers import (
    PERSON_NAME,
    PERSON_PHONE_DIGITS,
    Applied,
    applied_startup,
    intake_programme,
    manager_client,
)
from tests.helpers import audit_events, count, post, reloaded, text_of
from tests.test_intake import APPLICANT, COMPANY
from tests.test_startup_profile import edit_form

#: Tables allowed to keep a trace. None: the audit trail (the desk's accountability, GDPR
#: Art. 5(2)) keeps who did what when, but an erased record's change history loses its values.
LEGALLY_KEPT: set[str] = set()


@pytest.fixture
def applied(client, db, make_user) -> Applied:
    return applied_startup(client, db, intake_programme(db, make_user))


def traces(db: Session, *secrets: str) -> list[str]:
    """Every table.column (of text or JSON) that still holds one of the secrets."""
    found = []
    folded = [secret.casefold() for secret in secrets]
    for table in metadata.sorted_tables:
        if table.name in LEGALLY_KEPT:
            continue
        columns = [column for column in table.columns
                   if isinstance(column.type, (String, Text, JSON))]
        if not columns:
            continue
        for row in fresh(db).execute(select(*columns)).all():
            for column, value in zip(columns, row, strict=True):
                text = (json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list))
                        else str(value or "")).casefold()
                text = text.replace(" ", "")
                if any(secret.replace(" ", "") in text for secret in folded):
                    found.append(f"{table.name}.{column.name}")
    return sorted(set(found))


def erase(client, path: str, confirmation: str):
    return post(client, path, {"confirmation": confirmation}, token_from=path)


def test_erasing_a_startup_leaves_no_trace_but_the_anonymous_history(app, db, applied,
                                                                     make_user):
    staff = manager_client(app, make_user)
    startup_id = applied.startup.id
    document = fresh(db).scalars(select(Document)).one()
    with app.app_context():
        stored_file = path_of(document)
    assert stored_file.is_file()
    secrets = (COMPANY["name"], PERSON_NAME, APPLICANT, PERSON_PHONE_DIGITS,
               "bengaluru-robotics")
    assert traces(db, *secrets)  # the scan finds what is there
    path = f"/startups/{startup_id}/privacy/erase"

    page = text_of(staff.get(path))
    assert "This cannot be undone." in page and COMPANY["name"] in page
    response = erase(staff, path, COMPANY["name"])

    assert response.status_code == 302, text_of(response)
    assert traces(db, *secrets) == []
    startup = reloaded(db, Startup, startup_id)
    assert startup.name == f"Erased startup #{startup_id}" and startup.country == "IN"
    assert count(db, Document) == 0
    assert not stored_file.exists()
    enrollment = db.scalars(select(Enrollment)).one()
    assert enrollment.startup_id == startup_id and enrollment.stage == "intake"
    assert db.scalars(select(StageEvent.to_stage)).all() == ["intake"]
    contact = db.scalars(select(Contact)).one()
    assert contact.name == f"Erased contact #{contact.id}" and contact.email is None
    assert contact.consent_text_version  # when and which text: proof, not personal data
    assert {message.status for message in db.scalars(select(OutboxMessage))} <= {
        "dead", "sent"}
    event = audit_events(db, "gdpr.erased", startup_id=startup_id)[0]
    assert event.details["documents"] == 1 and event.details["contacts"] == 1
    assert not set(json.dumps(event.details).casefold().split()) & {"ananya", "rao"}


def test_erasing_a_contact_removes_them_and_keeps_the_startup(app, db, applied, make_user):
    staff = manager_client(app, make_user, Role.ADMIN)
    path = f"/startups/{applied.startup.id}/contacts/{applied.contact.id}/privacy/erase"

    response = erase(staff, path, "erase")

    assert response.status_code == 302, text_of(response)
    assert traces(db, PERSON_NAME, APPLICANT, PERSON_PHONE_DIGITS) == []
    startup = reloaded(db, Startup, applied.startup.id)
    assert startup.name == COMPANY["name"]
    assert count(db, Document) == 1  # the company's papers are the company's
    assert audit_events(db, "gdpr.erased")[0].object_type == "contact"


def test_a_wrong_confirmation_erases_nothing_and_says_so(app, db, applied, make_user):
    staff = manager_client(app, make_user)
    path = f"/startups/{applied.startup.id}/privacy/erase"

    response = erase(staff, path, "Bengaluru")

    assert response.status_code == 422
    page = text_of(response)
    assert "nothing was erased" in page and 'value="Bengaluru"' in page
    assert reloaded(db, Startup, applied.startup.id).name == COMPANY["name"]
    assert audit_events(db, "gdpr.erased") == []


def test_a_restricted_startup_is_not_erased(app, db, applied, make_user):
    staff = manager_client(app, make_user)
    base = f"/startups/{applied.startup.id}/privacy"
    assert post(staff, f"{base}/restrict", {"reason": "Legal hold"},
                token_from=base).status_code == 302

    response = erase(staff, f"{base}/erase", COMPANY["name"])

    assert response.status_code == 409
    assert "Lift the restriction first" in text_of(response)
    assert reloaded(db, Startup, applied.startup.id).name == COMPANY["name"]
    assert count(db, Document) == 1


def test_erasure_drops_the_values_of_the_change_history_and_keeps_who_did_what(
        app, db, applied, make_user):
    staff = manager_client(app, make_user)
    startup = applied.startup
    renamed = post(staff, f"/startups/{startup.id}/edit",
                   {**edit_form(staff, startup), "name": "Nilgiri Drones"})
    assert renamed.status_code == 302
    assert "audit_events.details" in traces(db, "Nilgiri Drones", COMPANY["name"])
    edit = audit_events(db, "startup.updated")[-1]

    erase(staff, f"/startups/{startup.id}/privacy/erase", "Nilgiri Drones")

    assert traces(db, "Nilgiri Drones", COMPANY["name"]) == []
    kept = fresh(db).get(AuditEvent, edit.id)
    assert (kept.action, kept.actor_user_id, kept.object_id, kept.occurred_at) == (
        edit.action, edit.actor_user_id, startup.id, edit.occurred_at)
    assert kept.details == {"redacted": True}


@pytest.mark.parametrize("change", [
    {"action": "auth.login"}, {"details": {"before": "something else"}},
    {"details": {"redacted": True}, "object_id": 0}])
def test_no_other_change_of_an_audit_event_gets_past_the_database(db, make_user, change):
    user = make_user(Role.ADMIN)  # creating the account wrote an event
    event = fresh(db).scalars(select(AuditEvent)).first()
    with pytest.raises(DBAPIError, match="audit events cannot be changed"):
        db.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(**change))
    db.rollback()
    assert fresh(db).get(AuditEvent, event.id).actor_user_id == event.actor_user_id
    assert user.id == event.object_id
