"""Bulk actions on rows selected in the startups list: assign an owner, add a tag, export the
selection; each row checked for permission, refusals explained, one audit event per change."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm.core.audit import AuditEvent
from crm.core.clock import set_clock
from crm.core.enums import Role
from crm.startups.models import Startup, StartupTag
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def post(client, action: str, **data):
    data.setdefault("view", "")
    return client.post(f"/startups/bulk/{action}",
                       data={**data, "csrf_token": csrf_token(client, "/")})


def flashes(client) -> str:
    return html.unescape(client.get("/").get_data(as_text=True))


def updates(db, startup_id: int) -> list[dict]:
    return [event.details for event in fresh(db).scalars(
        select(AuditEvent).where(AuditEvent.action == "startup.updated",
                                 AuditEvent.object_id == startup_id).order_by(AuditEvent.id))]


@pytest.fixture
def world(db, client_as, make_user):
    bd_client, bd = client_as(Role.BD_MANAGER)
    other = make_user(Role.BD_MANAGER, name="Other BD")
    startups = {
        "own": make_startup(db, "Own Robotics", owner_id=bd.id, contact_email=None),
        "free": make_startup(db, "Free Sensors", contact_email=None),
        "others": make_startup(db, "Others Fintech", owner_id=other.id, contact_email=None),
        "others2": make_startup(db, "Others Medtech", owner_id=other.id, contact_email=None),
    }
    return bd_client, bd, other, {key: s.id for key, s in startups.items()}


@pytest.fixture
def fixed_clock():
    set_clock(lambda: NOW)
    yield NOW
    set_clock(None)


def test_a_bd_manager_takes_over_own_and_unassigned_rows_and_is_told_about_the_rest(
        db, world, fixed_clock):
    client, bd, other, ids = world

    response = post(client, "assign", owner=str(bd.id), view="country=IN",
                    ids=[ids["own"], ids["free"], ids["others"], ids["others2"]])

    assert response.status_code == 302 and response.headers["Location"] == "/?country=IN"
    page = flashes(client)
    assert ("1 of 4 updated; 2 belong to another BD manager (Others Fintech, Others Medtech); "
            "1 already had this owner.") in page
    db = fresh(db)
    free = db.get(Startup, ids["free"])
    assert free.owner_id == bd.id and free.owner_assigned_at == NOW and free.version == 2
    assert db.get(Startup, ids["others"]).owner_id == other.id  # untouched
    assert db.get(Startup, ids["own"]).version == 1  # already theirs: nothing written
    assert updates(db, ids["free"]) == [{"changes": {"owner_id": [None, bd.id]},
                                         "owner_names": [None, bd.name], "bulk": True}]
    assert updates(db, ids["others"]) == [] and updates(db, ids["own"]) == []


def test_a_bd_manager_may_not_hand_startups_to_someone_else(db, world):
    client, _bd, other, ids = world

    response = post(client, "assign", owner=str(other.id), ids=[ids["free"]])

    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    assert "Choose the new owner." in text
    assert f'<option value="{other.id}"' not in text.split('id="bulk-owner"')[1][:500]
    free = ids["free"]
    assert re.search(rf'value="{free}" id="select-{free}"[^>]*checked>', text)  # still ticked
    assert not re.search(rf'value="{ids["own"]}" id="select-{ids["own"]}"[^>]*checked>', text)
    assert fresh(db).get(Startup, ids["free"]).owner_id is None


def test_a_manager_reassigns_anyones_startups_with_before_and_after_in_the_audit(
        db, world, client_as, fixed_clock):
    _client, bd, other, ids = world
    manager, manager_user = client_as(Role.MANAGER)

    post(manager, "assign", owner=str(bd.id), ids=[ids["others"], ids["others2"], ids["free"]])

    assert "3 of 3 updated." in flashes(manager)
    db = fresh(db)
    assert {db.get(Startup, ids[key]).owner_id for key in ("others", "others2", "free")} == {bd.id}
    details = updates(db, ids["others"])
    assert details == [{"changes": {"owner_id": [other.id, bd.id]},
                        "owner_names": ["Other BD", bd.name], "bulk": True}]
    event = db.scalar(select(AuditEvent).where(AuditEvent.object_id == ids["others"],
                                               AuditEvent.action == "startup.updated"))
    assert event.actor_user_id == manager_user.id and event.object_type == "startup"


def test_an_inactive_or_viewer_owner_is_refused(db, world, client_as, make_user):
    manager, _ = client_as(Role.MANAGER)
    viewer = make_user(Role.VIEWER)
    response = post(manager, "assign", owner=str(viewer.id), ids=[world[3]["free"]])
    assert response.status_code == 422
    assert fresh(db).get(Startup, world[3]["free"]).owner_id is None


def test_adding_a_tag_changes_what_the_user_may_change_once(db, world):
    client, _bd, _other, ids = world
    db.add(StartupTag(startup_id=ids["own"], tag="fair 2026"))
    db.commit()

    post(client, "tag", tag="  Fair   2026 ", ids=[ids["own"], ids["free"], ids["others"]])

    page = flashes(client)
    assert ("1 of 3 updated; 1 belongs to another BD manager (Others Fintech); "
            "1 already had this tag.") in page
    tags = {(row.startup_id, row.tag) for row in fresh(db).scalars(select(StartupTag))}
    assert tags == {(ids["own"], "fair 2026"), (ids["free"], "fair 2026")}
    assert updates(db, ids["free"]) == [{"changes": {"tags": [[], ["fair 2026"]]},
                                         "bulk": True}]
    assert fresh(db).get(Startup, ids["free"]).version == 2
    assert '<option value="fair 2026">fair 2026</option>' in page  # now a filter choice


def test_select_all_on_this_page_works_without_javascript(db, world, client_as):
    manager, _ = client_as(Role.MANAGER)
    ids = world[3]
    page = html.unescape(manager.get("/").get_data(as_text=True))
    page_ids = ",".join(str(ids[key]) for key in ("free", "others", "others2", "own"))
    assert f'value="{page_ids}"' in page and 'name="whole_page"' in page

    post(manager, "tag", tag="q4", whole_page="y", page_ids=page_ids)

    assert "4 of 4 updated." in flashes(manager)
    assert len(fresh(db).scalars(select(StartupTag).where(StartupTag.tag == "q4")).all()) == 4


@pytest.mark.parametrize(("action", "data", "message"), [
    ("assign", {"owner": ""}, "Select at least one startup."),
    ("tag", {"tag": "x"}, "Select at least one startup."),
    ("tag", {"ids": ["1"], "tag": "   "}, "Type the tag to add."),
    ("tag", {"ids": ["1"], "tag": "x" * 65}, "Field cannot be longer than 64 characters."),
    ("assign", {"ids": ["1"], "owner": "not-a-number"}, "Choose the new owner."),
    ("tag", {"ids": ["abc"], "tag": "x"}, "Invalid choice(s)"),
    ("export", {"ids": ["1"], "format": "pdf"}, "Choose CSV or XLSX."),
])
def test_incomplete_bulk_forms_are_refused_next_to_the_field(db, world, action, data, message):
    client = world[0]
    response = post(client, action, **data)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert fresh(db).scalars(select(AuditEvent).where(
        AuditEvent.action == "startup.updated")).all() == []


def test_viewers_see_no_bulk_controls_and_are_refused(db, world, client_as):
    viewer, _ = client_as(Role.VIEWER)
    ids = world[3]
    page = viewer.get("/").get_data(as_text=True)
    assert 'name="ids"' not in page and "With the selected startups" not in page
    assert "Export this view:" in page  # reading includes exporting

    for action, data in (("assign", {"owner": str(world[1].id)}), ("tag", {"tag": "x"}),
                         ("export", {"format": "csv"})):
        response = post(viewer, action, ids=[ids["free"]], **data)
        assert response.status_code == 403, action
    assert fresh(db).get(Startup, ids["free"]).owner_id is None


def test_export_selected_gives_exactly_the_selected_rows(db, world):
    client, _bd, _other, ids = world

    response = post(client, "export", format="csv", ids=[ids["others"], ids["free"]])

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=startups-")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Free Sensors", "Others Fintech"]  # list order
    event = fresh(db).scalar(select(AuditEvent).where(AuditEvent.action == "startups.exported"))
    assert event.details["row_count"] == 2 and event.details["selected"] == 2
