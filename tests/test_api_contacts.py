"""/api/v1 contacts: listed with cursors, added with the contact form's checks, read with an
ETag, changed and removed only as last seen; refusals, restriction and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups.models import Contact, Startup
from tests.conftest import fresh
from tests.factories import make_startup


@pytest.fixture
def bd(api_as):
    return api_as(Role.BD_MANAGER)


@pytest.fixture
def startup(db, bd) -> Startup:
    return make_startup(db, "Pune Sensors", owner_id=bd.user.id,
                        contact_email="asha@pune.example")


@pytest.fixture
def contact(db, startup) -> Contact:
    return db.scalar(select(Contact).where(Contact.startup_id == startup.id))


def _events(db, action: str) -> list[AuditEvent]:
    return list(fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _restrict(db, record) -> None:
    record.restricted_at = datetime(2026, 1, 5, tzinfo=UTC)
    db.add(record)
    db.commit()


# Listing ------------------------------------------------------------------------------------


def test_any_staff_role_lists_a_startups_contacts_page_by_page(db, api_as, startup):
    for number in range(2):
        db.add(Contact(startup_id=startup.id, name=f"Partner {number}"))
    db.commit()
    viewer = api_as(Role.VIEWER)

    first = viewer.get(f"/api/v1/startups/{startup.id}/contacts?limit=2")
    assert first.status_code == 200
    assert [item["name"] for item in first.json["items"]] == ["Asha Rao", "Partner 0"]
    assert first.json["items"][0]["email"] == "asha@pune.example"
    cursor = first.json["next_cursor"]
    assert cursor and f"cursor={cursor}" in first.headers["Link"]
    second = viewer.get(f"/api/v1/startups/{startup.id}/contacts?limit=2&cursor={cursor}")
    assert [item["name"] for item in second.json["items"]] == ["Partner 1"]
    assert second.json["next_cursor"] is None and "Link" not in second.headers


def test_a_cursor_the_list_did_not_give_is_a_bad_request(bd, startup):
    response = bd.get(f"/api/v1/startups/{startup.id}/contacts?cursor=not-ours")
    assert response.status_code == 400
    assert response.json["type"].endswith(":bad-cursor")
    assert response.mimetype == "application/problem+json"


def test_an_unknown_startup_has_no_contacts_to_list(bd):
    assert bd.get("/api/v1/startups/999999/contacts").status_code == 404


def test_without_a_token_nothing_is_listed(client, startup):
    response = client.get(f"/api/v1/startups/{startup.id}/contacts")
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_a_limit_out_of_range_is_a_field_error(bd, startup):
    response = bd.get(f"/api/v1/startups/{startup.id}/contacts?limit=101")
    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == ["query.limit"]


# Adding -------------------------------------------------------------------------------------


def test_the_owner_adds_a_contact_checked_and_normalised_as_the_form_does(db, bd, startup):
    response = bd.post(f"/api/v1/startups/{startup.id}/contacts", json={
        "name": "  Ravi  Kumar ", "email": "Ravi@Pune.Example", "phone": "+49 211 1234567",
        "role": "CTO", "language": "de"})
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["name"], body["email"], body["phone"], body["language"]) == (
        "Ravi Kumar", "ravi@pune.example", "+492111234567", "de")
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/api/v1/contacts/{body['id']}")
    saved = fresh(db).get(Contact, body["id"])
    assert saved.startup_id == startup.id and saved.role == "CTO"
    [event] = _events(db, "contact.added")
    assert event.actor_user_id == bd.user.id and event.object_id == startup.id
    assert event.details["changes"]["email"] == [None, "ravi@pune.example"]


def test_a_contact_without_a_language_gets_the_callers(db, api_as, make_user, startup):
    manager = api_as(Role.MANAGER, user=make_user(Role.MANAGER, locale="de"))
    response = manager.post(f"/api/v1/startups/{startup.id}/contacts", json={"name": "Ravi"})
    assert response.status_code == 201
    assert response.json["language"] == "de"


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Ravi", "email": "not an address"}, "body.email"),
    ({"name": "Ravi", "phone": "12"}, "body.phone"),
    ({"name": "   "}, "body.name"),
    ({"name": 5}, "body.name"),
    ({"name": "Ravi", "language": "fr"}, "body.language"),
    ({"name": "Ravi", "nickname": "R"}, "body.nickname"),
    ({"email": "ravi@pune.example"}, "body.name"),
    ({"name": "Ravi\x00"}, "body.name"),  # PostgreSQL stores no NUL: refused, not a 500
])
def test_bad_values_are_field_errors_and_nothing_is_added(db, bd, startup, body, field):
    response = bd.post(f"/api/v1/startups/{startup.id}/contacts", json=body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json["errors"]]
    assert len(list(fresh(db).scalars(select(Contact)))) == 1


def test_a_bd_manager_may_not_add_to_another_ones_startup(db, api_as, bd, make_user):
    theirs = make_startup(db, "Chennai Drones", owner_id=make_user(Role.BD_MANAGER).id,
                          contact_email=None)
    response = bd.post(f"/api/v1/startups/{theirs.id}/contacts", json={"name": "Ravi"})
    assert response.status_code == 403
    assert fresh(db).scalars(select(Contact)).all() == []
    [denied] = _events(db, "access.denied")
    assert denied.actor_user_id == bd.user.id
    assert denied.details["endpoint"] == "api.create_contact"


def test_a_read_only_token_adds_nothing(api_as, startup):
    reader = api_as(Role.MANAGER, scopes=("read",))
    response = reader.post(f"/api/v1/startups/{startup.id}/contacts", json={"name": "Ravi"})
    assert response.status_code == 403
    assert response.json["type"].endswith(":insufficient-scope")


def test_a_restricted_startup_gets_no_new_contacts(db, bd, startup):
    _restrict(db, startup)
    response = bd.post(f"/api/v1/startups/{startup.id}/contacts", json={"name": "Ravi"})
    assert response.status_code == 409
    assert response.json["type"].endswith(":restricted")


# Reading, changing, removing ------------------------------------------------------------------


def test_a_contact_is_read_with_its_version_as_etag(api_as, contact):
    response = api_as(Role.VIEWER).get(f"/api/v1/contacts/{contact.id}")
    assert response.status_code == 200
    assert response.json["name"] == "Asha Rao" and response.json["version"] == 1
    assert response.headers["ETag"] == '"1"'


def test_an_unknown_contact_is_not_found(bd):
    response = bd.get("/api/v1/contacts/424242")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_change_with_the_current_etag_is_saved_and_recorded(db, bd, contact):
    response = bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO", "phone": None},
                        headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.json
    assert response.json["role"] == "CEO" and response.json["name"] == "Asha Rao"
    assert response.headers["ETag"] == '"2"'
    assert fresh(db).get(Contact, contact.id).role == "CEO"
    [event] = _events(db, "contact.updated")
    assert event.details["changes"] == {"role": [None, "CEO"]}


def test_a_change_may_say_its_version_in_the_body(db, bd, contact):
    response = bd.patch(f"/api/v1/contacts/{contact.id}",
                        json={"email": "ASHA@new.example", "version": 1})
    assert response.status_code == 200
    assert fresh(db).get(Contact, contact.id).email == "asha@new.example"


def test_a_change_to_an_older_version_is_refused_with_the_current_one(db, bd, contact):
    assert bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO", "version": 1}
                    ).status_code == 200
    by_header = bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CFO"},
                         headers={"If-Match": '"1"'})
    assert by_header.status_code == 412
    assert by_header.json["type"].endswith(":stale")
    assert by_header.json["current_version"] == 2
    by_body = bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CFO", "version": 1})
    assert by_body.status_code == 409 and by_body.json["current_version"] == 2
    assert fresh(db).get(Contact, contact.id).role == "CEO"


def test_a_change_must_say_which_version_it_changes(bd, contact):
    response = bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO"})
    assert response.status_code == 428
    assert response.json["type"].endswith(":version-required")


@pytest.mark.parametrize("body", [{"name": None, "version": 1}, {"language": None, "version": 1},
                                  {"version": "one"}, {"email": "@", "version": 1},
                                  {"consent_given_at": None, "version": 1}])
def test_a_change_with_bad_values_is_refused(db, bd, contact, body):
    response = bd.patch(f"/api/v1/contacts/{contact.id}", json=body)
    assert response.status_code == 422
    assert fresh(db).get(Contact, contact.id).version == 1


def test_a_bd_manager_may_not_change_another_ones_contact(db, api_as, contact):
    other = api_as(Role.BD_MANAGER)
    response = other.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO"})
    assert response.status_code == 403  # before the missing version: not theirs at all
    assert other.delete(f"/api/v1/contacts/{contact.id}",
                        headers={"If-Match": '"1"'}).status_code == 403
    assert fresh(db).get(Contact, contact.id).role is None


def test_a_restricted_contact_is_kept_as_it_is(db, bd, contact):
    _restrict(db, contact)
    response = bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO", "version": 1})
    assert response.status_code == 409
    assert response.json["type"].endswith(":restricted")
    assert bd.delete(f"/api/v1/contacts/{contact.id}",
                     headers={"If-Match": '"1"'}).status_code == 409
    assert fresh(db).get(Contact, contact.id) is not None


def test_a_contact_is_removed_as_last_seen(db, bd, startup, contact):
    db.expunge(contact)
    assert bd.delete(f"/api/v1/contacts/{contact.id}").status_code == 428
    bd.patch(f"/api/v1/contacts/{contact.id}", json={"role": "CEO", "version": 1})
    assert bd.delete(f"/api/v1/contacts/{contact.id}",
                     headers={"If-Match": '"1"'}).status_code == 412
    assert fresh(db).get(Contact, contact.id) is not None

    contact_id = contact.id
    response = bd.delete(f"/api/v1/contacts/{contact_id}", headers={"If-Match": '"2"'})
    assert response.status_code == 204 and response.get_data() == b""
    assert fresh(db).scalar(select(Contact.id).where(Contact.id == contact_id)) is None
    [event] = _events(db, "contact.removed")
    assert event.object_id == startup.id and event.details["contact"] == "Asha Rao"
    assert bd.get(f"/api/v1/contacts/{contact_id}").status_code == 404
