"""/api/v1 activities and tasks: pages newest first (activities) or by id (tasks) at a constant
number of queries, filters, logging and task changes through the services; refusals,
restriction and the audit trail."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlmodel import select

from crm.api.common import encode_id_cursor
from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, Role
from crm.startups.models import Activity, Startup, Task
from tests.conftest import fresh
from tests.factories import add_task, make_startup

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MISSING = object()


@pytest.fixture
def bd(api_as):
    return api_as(Role.BD_MANAGER)


@pytest.fixture
def startup(db, bd) -> Startup:
    return make_startup(db, "Pune Sensors", owner_id=bd.user.id, contact_email=None)


@pytest.fixture
def theirs(db, make_user) -> Startup:
    """Another BD manager's startup."""
    return make_startup(db, "Chennai Drones", owner_id=make_user(Role.BD_MANAGER).id,
                        contact_email=None)


def _events(db, action: str) -> list[AuditEvent]:
    return list(fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _restrict(db, startup: Startup) -> None:
    startup.restricted_at = NOW
    db.add(startup)
    db.commit()


def _log(db, startup: Startup, subject: str, occurred_at: datetime, author_id=None) -> Activity:
    activity = Activity(startup_id=startup.id, kind=ActivityKind.CALL, subject=subject,
                        occurred_at=occurred_at, author_id=author_id)
    db.add(activity)
    db.commit()
    return activity


def _task(db, task_id: int) -> Task:
    """The task as the requests left it (the fixtures' objects may be cached)."""
    return fresh(db).get(Task, task_id, populate_existing=True)


def _fields(response) -> list[str]:
    return [error["field"] for error in response.json.get("errors") or []]


# Activities: reading ------------------------------------------------------------------------


def test_activities_come_newest_first_by_when_they_happened_page_by_page(db, api_as, bd,
                                                                          startup):
    _log(db, startup, "Second", NOW - timedelta(days=2), bd.user.id)
    _log(db, startup, "Newest", NOW)
    _log(db, startup, "Oldest", NOW - timedelta(days=9))
    _log(db, startup, "Third", NOW - timedelta(days=2))  # same moment: the later id first
    _log(db, startup, "Fourth", NOW - timedelta(days=3))
    viewer, seen, url = api_as(Role.VIEWER), [], f"/api/v1/startups/{startup.id}/activities"
    response = viewer.get(f"{url}?limit=2")
    while True:
        assert response.status_code == 200
        assert len(response.json["items"]) <= 2
        seen += [item["subject"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            break
        assert f"cursor={cursor}" in response.headers["Link"]
        response = viewer.get(f"{url}?limit=2&cursor={cursor}")
    assert seen == ["Newest", "Third", "Second", "Fourth", "Oldest"]
    first = viewer.get(url).json["items"]
    assert first[2]["author_name"] == bd.user.name and first[2]["kind"] == "call"
    assert first[0]["author_id"] is None and first[0]["occurred_at"].startswith("2026-03-02T09")


def _cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", encode_id_cursor("tasks", 3), _cursor("activities", "2026-03-02T09:00:00", 3),
    _cursor("activities", "0001-01-01T00:00:00+05:00", 3), _cursor("activities", 5, 3),
    _cursor("activities", "2026-03-02T09:00:00+00:00", "3"), _cursor({"a": 1}),
])
def test_a_cursor_this_list_did_not_give_is_a_bad_request(bd, startup, cursor):
    response = bd.get(f"/api/v1/startups/{startup.id}/activities?cursor={cursor}")
    assert response.status_code == 400
    assert response.json["type"].endswith(":bad-cursor")


def test_activities_of_an_unknown_startup_are_not_found(bd):
    assert bd.get("/api/v1/startups/424242/activities").status_code == 404
    assert bd.post("/api/v1/startups/424242/activities",
                   json={"kind": "note", "subject": "Hi"}).status_code == 404


def test_a_page_of_activities_costs_the_same_queries_however_many_authors(
        db, api_as, make_user, startup, count_queries):
    viewer = api_as(Role.VIEWER)
    url = f"/api/v1/startups/{startup.id}/activities"
    _log(db, startup, "One", NOW, make_user(Role.BD_MANAGER).id)
    viewer.get(url)  # the token's first use is recorded once
    with count_queries() as small:
        assert len(viewer.get(url).json["items"]) == 1
    for number in range(12):
        _log(db, startup, f"Call {number}", NOW, make_user(Role.BD_MANAGER).id)
    with count_queries() as large:
        assert len(viewer.get(url).json["items"]) == 13
    assert len(large) == len(small)


# Activities: logging ------------------------------------------------------------------------


def test_the_owner_logs_an_activity_at_a_moment_with_its_offset(db, bd, startup):
    response = bd.post(f"/api/v1/startups/{startup.id}/activities", json={
        "kind": "meeting", "subject": " Pitch at the fair ", "body": "They want an office.",
        "occurred_at": "2026-02-27T15:30:00+01:00"})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["subject"] == "Pitch at the fair" and body["author_name"] == bd.user.name
    saved = fresh(db).get(Activity, body["id"])
    assert saved.occurred_at == datetime(2026, 2, 27, 14, 30, tzinfo=UTC)
    assert (saved.kind, saved.author_id) == (ActivityKind.MEETING, bd.user.id)
    [event] = _events(db, "activity.logged")
    assert (event.actor_user_id, event.object_id) == (bd.user.id, startup.id)
    assert event.details == {"activity_id": saved.id, "kind": "meeting"}


def test_an_activity_without_a_moment_happened_now(db, bd, startup, clock):
    clock(NOW)
    response = bd.post(f"/api/v1/startups/{startup.id}/activities",
                       json={"kind": "note", "subject": "Sent the brochure"})
    assert response.status_code == 201
    assert fresh(db).get(Activity, response.json["id"]).occurred_at == NOW


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "note", "subject": "Hi", "occurred_at": "2026-02-27T15:30:00"},
     "body.occurred_at"),
    ({"kind": "note", "subject": "Hi", "occurred_at": "9999-12-31T23:59:59-12:00"},
     "body.occurred_at"),
    ({"kind": "note", "subject": "Hi", "occurred_at": "yesterday"}, "body.occurred_at"),
    ({"kind": "import", "subject": "Hi"}, "body.kind"),
    ({"kind": "merge", "subject": "Hi"}, "body.kind"),
    ({"kind": "note", "subject": "  "}, "body.subject"),
    ({"kind": "note"}, "body.subject"),
    ({"kind": "note", "subject": ["Hi"]}, "body.subject"),
    ({"kind": "note", "subject": "Hi", "author_id": 1}, "body.author_id"),
    ({"kind": "note", "subject": "Hi", "body": "Notes\x00"}, "body.body"),
])
def test_bad_activities_are_field_errors_and_nothing_is_logged(db, bd, startup, body, field):
    response = bd.post(f"/api/v1/startups/{startup.id}/activities", json=body)
    assert response.status_code == 422
    assert field in _fields(response)
    assert fresh(db).scalars(select(Activity)).all() == []


def test_nobody_logs_on_a_startup_they_may_not_change(db, api_as, bd, theirs):
    response = bd.post(f"/api/v1/startups/{theirs.id}/activities",
                       json={"kind": "note", "subject": "Hi"})
    assert response.status_code == 403
    [denied] = _events(db, "access.denied")
    assert denied.details["endpoint"] == "api.log_activity"
    reader = api_as(Role.MANAGER, scopes=("read",))
    response = reader.post(f"/api/v1/startups/{theirs.id}/activities",
                           json={"kind": "note", "subject": "Hi"})
    assert response.status_code == 403
    assert response.json["type"].endswith(":insufficient-scope")
    assert fresh(db).scalars(select(Activity)).all() == []


def test_a_restricted_startup_gets_no_new_activities(db, bd, startup):
    _restrict(db, startup)
    response = bd.post(f"/api/v1/startups/{startup.id}/activities",
                       json={"kind": "note", "subject": "Hi"})
    assert response.status_code == 409
    assert response.json["type"].endswith(":restricted")
    assert bd.get(f"/api/v1/startups/{startup.id}/activities").status_code == 200


def test_activities_need_a_token(client, startup):
    assert client.get(f"/api/v1/startups/{startup.id}/activities").status_code == 401
    assert client.post(f"/api/v1/startups/{startup.id}/activities",
                       json={"kind": "note", "subject": "Hi"}).status_code == 401


# Tasks: reading -----------------------------------------------------------------------------


@pytest.fixture
def tasks(db, bd, startup, theirs, make_user):
    other = make_user(Role.MANAGER)
    return {
        "mine_due": add_task(db, "Call back", bd.user, NOW + timedelta(days=1), startup=startup),
        "mine_done": add_task(db, "Send deck", bd.user, NOW - timedelta(days=1), startup=startup,
                              done=True),
        "mine_later": add_task(db, "Visit", bd.user, NOW + timedelta(days=10), startup=startup),
        "theirs": add_task(db, "Their call", other, NOW, startup=theirs),
        "loose": add_task(db, "Plan the fair", other),
    }


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_tasks_are_listed_by_id_page_by_page(api_as, tasks):
    viewer = api_as(Role.VIEWER)
    first = viewer.get("/api/v1/tasks?limit=3")
    assert _titles(first) == ["Call back", "Send deck", "Visit"]
    cursor = first.json["next_cursor"]
    assert f"cursor={cursor}" in first.headers["Link"]
    second = viewer.get(f"/api/v1/tasks?limit=3&cursor={cursor}")
    assert _titles(second) == ["Their call", "Plan the fair"]
    assert second.json["next_cursor"] is None
    item = first.json["items"][1]
    assert item["done"] is True and item["startup_name"] == "Pune Sensors"
    assert item["done_at"].startswith("2026-01-01")


def test_task_filters_combine(bd, tasks, startup):
    due_before = quote((NOW + timedelta(days=2)).isoformat())
    assert _titles(bd.get("/api/v1/tasks?assignee=me")) == ["Call back", "Send deck", "Visit"]
    assignee = tasks["loose"].assignee_id
    assert _titles(bd.get(f"/api/v1/tasks?assignee={assignee}")) == ["Their call",
                                                                     "Plan the fair"]
    assert _titles(bd.get(f"/api/v1/tasks?startup_id={startup.id}&open=true")) == [
        "Call back", "Visit"]
    assert _titles(bd.get("/api/v1/tasks?open=false")) == ["Send deck"]
    assert _titles(bd.get(f"/api/v1/tasks?assignee=me&open=true&due_before={due_before}")) == [
        "Call back"]


@pytest.mark.parametrize(("query", "field"), [
    ("assignee=someone", "query.assignee"), ("open=maybe", "query.open"),
    ("due_before=2026-03-01T00:00:00", "query.due_before"), ("startup_id=0", "query.startup_id"),
    ("limit=0", "query.limit"), ("owner=me", "query.owner"),
])
def test_bad_task_filters_are_field_errors(bd, tasks, query, field):
    response = bd.get(f"/api/v1/tasks?{query}")
    assert response.status_code == 422
    assert _fields(response) == [field]


def test_a_task_list_cursor_of_another_list_is_a_bad_request(bd, tasks):
    response = bd.get(f"/api/v1/tasks?cursor={encode_id_cursor('contacts', 1)}")
    assert response.status_code == 400
    assert response.json["type"].endswith(":bad-cursor")


def test_a_page_of_tasks_costs_the_same_queries_however_many_startups_and_people(
        db, api_as, make_user, count_queries):
    viewer = api_as(Role.VIEWER)

    def add(number: int) -> None:
        owner = make_user(Role.BD_MANAGER)
        add_task(db, f"Task {number}", owner,
                 startup=make_startup(db, f"Startup {number}", owner_id=owner.id,
                                      contact_email=None))

    add(0)
    viewer.get("/api/v1/tasks")  # the token's first use is recorded once
    with count_queries() as small:
        assert len(viewer.get("/api/v1/tasks").json["items"]) == 1
    for number in range(1, 13):
        add(number)
    with count_queries() as large:
        assert len(viewer.get("/api/v1/tasks").json["items"]) == 13
    assert len(large) == len(small)


def test_one_task_is_read_by_anyone_on_the_staff(api_as, tasks):
    response = api_as(Role.VIEWER).get(f"/api/v1/tasks/{tasks['theirs'].id}")
    assert response.status_code == 200
    assert response.json["title"] == "Their call" and response.json["done"] is False
    assert response.json["startup_name"] == "Chennai Drones"
    assert api_as(Role.VIEWER).get("/api/v1/tasks/424242").status_code == 404


def test_tasks_need_a_token(client, tasks):
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get(f"/api/v1/tasks/{tasks['theirs'].id}").status_code == 401


# Tasks: creating ----------------------------------------------------------------------------


def test_a_task_goes_to_the_startups_owner_unless_someone_is_named(db, api_as, bd, startup):
    manager = api_as(Role.MANAGER)
    response = manager.post("/api/v1/tasks", json={
        "startup_id": startup.id, "title": "Book the visit", "due_at": "2026-03-06T18:00:00Z"})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["assignee_id"] == bd.user.id and body["assignee_name"] == bd.user.name
    assert response.headers["Location"].endswith(f"/api/v1/tasks/{body['id']}")
    saved = _task(db, body["id"])
    assert saved.due_at == datetime(2026, 3, 6, 18, tzinfo=UTC)
    assert saved.created_by_id == manager.user.id
    [event] = _events(db, "task.created")
    assert (event.object_id, event.details["assignee_id"]) == (saved.id, bd.user.id)

    named = manager.post("/api/v1/tasks", json={"startup_id": startup.id, "title": "Prepare",
                                                 "assignee_id": manager.user.id})
    assert named.status_code == 201 and named.json["assignee_id"] == manager.user.id


def test_a_task_goes_only_to_someone_who_may_work_on_the_startup(db, api_as, bd, startup,
                                                                 make_user):
    gone = make_user(Role.MANAGER)
    gone.is_active = False
    db.add(gone)
    db.commit()
    for user in (make_user(Role.BD_MANAGER), make_user(Role.VIEWER), gone):
        response = bd.post("/api/v1/tasks", json={"startup_id": startup.id, "title": "Call",
                                                  "assignee_id": user.id})
        assert response.status_code == 422, user.role
        assert _fields(response) == ["body.assignee_id"]
    response = bd.post("/api/v1/tasks", json={"startup_id": startup.id, "title": "Call",
                                              "assignee_id": 424242})
    assert _fields(response) == ["body.assignee_id"]
    assert fresh(db).scalars(select(Task)).all() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"startup_id": 424242, "title": "Call"}, "body.startup_id"),
    ({"startup_id": MISSING, "title": "Call"}, "body.startup_id"),
    ({"startup_id": "STARTUP", "title": "Call"}, "body.startup_id"),
    ({"title": " "}, "body.title"),
    ({"title": "Call", "due_at": "2026-03-06T18:00:00"}, "body.due_at"),
    ({"title": "Call", "done": True}, "body.done"),
])
def test_bad_tasks_are_field_errors_and_nothing_is_created(db, bd, startup, body, field):
    body = {name: value for name, value in {"startup_id": startup.id, **body}.items()
            if value is not MISSING}
    response = bd.post("/api/v1/tasks", json=body)
    assert response.status_code == 422
    assert field in _fields(response)
    assert fresh(db).scalars(select(Task)).all() == []


def test_no_task_on_a_startup_one_may_not_change(db, api_as, bd, theirs, startup):
    assert bd.post("/api/v1/tasks", json={"startup_id": theirs.id,
                                          "title": "Call"}).status_code == 403
    reader = api_as(Role.MANAGER, scopes=("read",))
    assert reader.post("/api/v1/tasks", json={"startup_id": startup.id,
                                              "title": "Call"}).status_code == 403
    _restrict(db, startup)
    response = bd.post("/api/v1/tasks", json={"startup_id": startup.id, "title": "Call"})
    assert response.status_code == 409 and response.json["type"].endswith(":restricted")
    assert fresh(db).scalars(select(Task)).all() == []


# Tasks: changing ----------------------------------------------------------------------------


def test_a_task_is_done_and_open_again(db, bd, tasks):
    task_id = tasks["mine_due"].id
    done = bd.patch(f"/api/v1/tasks/{task_id}", json={"done": True})
    assert done.status_code == 200, done.json
    assert done.json["done"] is True and _task(db, task_id).done_at is not None
    again = bd.patch(f"/api/v1/tasks/{task_id}", json={"done": False})
    assert again.json["done"] is False and _task(db, task_id).done_at is None
    assert [event.object_id for event in _events(db, "task.completed")] == [task_id]
    assert [event.object_id for event in _events(db, "task.reopened")] == [task_id]


def test_a_task_is_moved_and_given_to_someone_else(db, api_as, bd, tasks):
    manager = api_as(Role.MANAGER)
    task_id = tasks["mine_due"].id
    response = manager.patch(f"/api/v1/tasks/{task_id}", json={
        "due_at": "2026-03-09T17:00:00+01:00", "assignee_id": manager.user.id})
    assert response.status_code == 200, response.json
    assert response.json["assignee_name"] == manager.user.name
    saved = _task(db, task_id)
    assert saved.due_at == datetime(2026, 3, 9, 16, tzinfo=UTC)
    assert saved.assignee_id == manager.user.id and saved.done_at is None
    [snoozed] = _events(db, "task.snoozed")
    assert snoozed.details["after"] == "2026-03-09T16:00:00+00:00"
    [reassigned] = _events(db, "task.reassigned")
    assert reassigned.details == {"startup_id": saved.startup_id, "before": bd.user.id,
                                  "after": manager.user.id}


def test_a_done_task_is_moved_only_when_reopened_in_the_same_change(db, bd, tasks):
    task_id = tasks["mine_done"].id
    response = bd.patch(f"/api/v1/tasks/{task_id}", json={"due_at": "2026-03-09T16:00:00Z"})
    assert response.status_code == 409 and response.json["type"].endswith(":task-done")
    assert _task(db, task_id).due_at == NOW - timedelta(days=1)
    response = bd.patch(f"/api/v1/tasks/{task_id}",
                        json={"done": False, "due_at": "2026-03-09T16:00:00Z"})
    assert response.status_code == 200
    assert response.json["done"] is False and response.json["due_at"].startswith("2026-03-09")


@pytest.mark.parametrize(("body", "field"), [
    ({"done": None}, "body.done"), ({"due_at": None}, "body.due_at"),
    ({"assignee_id": None}, "body.assignee_id"), ({"done": "perhaps"}, "body.done"),
    ({"due_at": "2026-03-09T16:00:00"}, "body.due_at"), ({"title": "New"}, "body.title"),
])
def test_bad_task_changes_are_field_errors(db, bd, tasks, body, field):
    task_id = tasks["mine_due"].id
    response = bd.patch(f"/api/v1/tasks/{task_id}", json=body)
    assert response.status_code == 422
    assert field in _fields(response)
    assert _task(db, task_id).due_at == NOW + timedelta(days=1)


def test_a_task_is_given_only_to_someone_who_may_work_on_its_startup(db, bd, tasks, make_user):
    task_id = tasks["mine_due"].id
    response = bd.patch(f"/api/v1/tasks/{task_id}",
                        json={"done": True, "assignee_id": make_user(Role.BD_MANAGER).id})
    assert response.status_code == 422 and _fields(response) == ["body.assignee_id"]
    assert _task(db, task_id).done_at is None


def test_nobody_changes_a_task_they_may_not(db, api_as, bd, tasks, make_user):
    assert bd.patch(f"/api/v1/tasks/{tasks['theirs'].id}", json={"done": True}).status_code == 403
    # A task without a startup: its assignee's or a manager's.
    assert bd.patch(f"/api/v1/tasks/{tasks['loose'].id}", json={"done": True}).status_code == 403
    reader = api_as(Role.MANAGER, scopes=("read",))
    assert reader.patch(f"/api/v1/tasks/{tasks['mine_due'].id}",
                        json={"done": True}).status_code == 403
    assert bd.patch("/api/v1/tasks/424242", json={"done": True}).status_code == 404
    assert fresh(db).scalars(select(Task).where(Task.done_at.is_not(None))).all() == [
        tasks["mine_done"]]
    assert api_as(Role.MANAGER).patch(f"/api/v1/tasks/{tasks['loose'].id}",
                                      json={"done": True}).status_code == 200


def test_the_tasks_of_a_restricted_startup_stay_as_they_are(db, bd, startup, tasks):
    _restrict(db, startup)
    response = bd.patch(f"/api/v1/tasks/{tasks['mine_due'].id}", json={"done": True})
    assert response.status_code == 409 and response.json["type"].endswith(":restricted")
    assert _task(db, tasks["mine_due"].id).done_at is None
