"""/api/v1 programmes: every programme listed, one programme's current definition read."""

from __future__ import annotations

import pytest

from crm.api.common import encode_id_cursor
from crm.core.enums import Role
from tests.conftest import fresh
from tests.factories import definition, make_programme, stage


@pytest.fixture
def viewer(api_as):
    return api_as(Role.VIEWER)


@pytest.fixture
def programmes(db):
    corridor = make_programme(db)
    closed = make_programme(db, definition(key="pilot", name={"en": "Pilot", "de": "Pilot"}))
    closed.is_active = False
    db.add(closed)
    db.commit()
    return corridor, closed


def test_every_programme_is_listed_closed_ones_too_page_by_page(viewer, programmes):
    first = viewer.get("/api/v1/programmes?limit=1")
    assert first.status_code == 200
    assert first.json["items"] == [{"key": "corridor", "name": {"en": "Corridor",
                                                                "de": "Korridor"},
                                    "active": True, "current_version": 1}]
    cursor = first.json["next_cursor"]
    assert f"cursor={cursor}" in first.headers["Link"]
    second = viewer.get(f"/api/v1/programmes?limit=1&cursor={cursor}")
    assert [(item["key"], item["active"]) for item in second.json["items"]] == [("pilot", False)]
    assert second.json["next_cursor"] is None


def test_a_programme_shows_its_stages_checklist_and_fields(viewer, programmes):
    response = viewer.get("/api/v1/programmes/corridor")
    assert response.status_code == 200
    body = response.json
    assert body["description"] == {"en": "A test programme.", "de": "Ein Testprogramm."}
    stages = {item["key"]: item for item in body["stages"]}
    assert list(stages) == ["lead", "intake", "qualified", "landed", "withdrawn", "rejected"]
    assert stages["intake"] == {
        "key": "intake", "label": {"en": "Intake", "de": "Fragebogen"}, "sla_working_days": 3,
        "closes_as": None, "next_stages": ["qualified", "lead", "landed", "withdrawn",
                                           "rejected"]}
    assert stages["landed"]["closes_as"] == "landed" and stages["landed"]["next_stages"] == []
    assert body["checklist"][1] == {
        "key": "permit", "label": {"en": "Residence permit", "de": "Aufenthaltstitel"},
        "owner": "startup", "depends_on": ["address"], "due_in_working_days": None,
        "expires": True}
    [field] = body["fields"]
    assert field["key"] == "referred_by"
    assert [choice["value"] for choice in field["choices"]] == ["karnataka", "duesseldorf"]


def test_a_programme_shows_the_version_new_enrollments_use(db, viewer, programmes):
    make_programme(db, definition(stages=[stage("lead", "Lead", "Interessent"),
                                          stage("won", "Won", "Gewonnen", closes_as="landed")],
                                  transitions=[], checklist=[], fields=[], intake_stage=None))
    programme = fresh(db).get(type(programmes[0]), programmes[0].id)
    assert programme.current_version == 2
    body = viewer.get("/api/v1/programmes/corridor").json
    assert body["current_version"] == 2
    assert [item["key"] for item in body["stages"]] == ["lead", "won"]
    assert body["checklist"] == [] and body["fields"] == []


def test_an_unknown_programme_is_not_found(viewer, programmes):
    response = viewer.get("/api/v1/programmes/nothing_here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_key_that_cannot_be_one_is_a_field_error(viewer, programmes):
    response = viewer.get("/api/v1/programmes/Not-A-Key")
    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == ["path.key"]


@pytest.mark.parametrize("cursor", ["garbage", encode_id_cursor("contacts", 1)])
def test_a_cursor_of_another_list_is_a_bad_request(viewer, programmes, cursor):
    response = viewer.get(f"/api/v1/programmes?cursor={cursor}")
    assert response.status_code == 400
    assert response.json["type"].endswith(":bad-cursor")


def test_unknown_query_parameters_are_refused(viewer, programmes):
    response = viewer.get("/api/v1/programmes?active=true")
    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == ["query.active"]


def test_programmes_need_a_token(client, programmes):
    assert client.get("/api/v1/programmes").status_code == 401
    assert client.get("/api/v1/programmes/corridor").status_code == 401
