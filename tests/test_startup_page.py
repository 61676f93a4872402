"""A startup's page as the BD manager's workspace: quick-log, tasks (create, done, undo, from the
task list too), the timeline and its paging, refused input, permissions, query counts."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, Role
from crm.outbox.models import OutboxMessage
from crm.startups.models import Activity, Startup, Task
from crm.startups.timeline import startup_timeline
from tests.conftest import csrf_token, fresh
from tests.factories import make_programme, make_startup


def page_of(client, startup: Startup, **params) -> str:
    response = client.get(f"/startups/{startup.id}", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def post(client, url: str, data: dict | None = None, token_from: str = "/tasks/"):
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


def count(db: Session, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def audit_actions(db: Session) -> list[str]:
    return list(fresh(db).scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def own(db, bd):
    client, user = bd
    return client, user, make_startup(db, owner_id=user.id)


def test_quick_log_reads_the_time_in_berlin_and_shows_it_on_the_timeline(db, own):
    client, user, startup = own
    response = post(client, f"/startups/{startup.id}/activities",
                    {"kind": "call", "subject": "Intro call", "body": "Wants an office.",
                     "occurred_at": "2026-07-01T10:30"})
    assert response.status_code == 302
    activity = fresh(db).scalar(select(Activity).where(Activity.startup_id == startup.id))
    assert activity.kind == ActivityKind.CALL and activity.author_id == user.id
    assert activity.occurred_at == datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # CEST
    assert "activity.logged" in audit_actions(db)
    page = page_of(client, startup)
    assert "Intro call" in page and "Wants an office." in page and user.name in page


def test_quick_log_without_a_time_means_now(db, own):
    client, _user, startup = own
    before = datetime.now(UTC)
    post(client, f"/startups/{startup.id}/activities", {"kind": "note", "subject": "Hi"})
    activity = fresh(db).scalar(select(Activity).where(Activity.startup_id == startup.id))
    assert before - timedelta(seconds=5) <= activity.occurred_at <= datetime.now(UTC)


@pytest.mark.parametrize("data", [
    {"kind": "note", "subject": ""},
    {"kind": "tweet", "subject": "x"},
    {"kind": "note", "subject": "x" * 201},
    {"kind": "note", "subject": "x", "occurred_at": "yesterday-ish"},
])
def test_a_refused_activity_writes_nothing_and_keeps_what_was_typed(db, own, data):
    client, _user, startup = own
    response = post(client, f"/startups/{startup.id}/activities", {**data, "body": "typed body"})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "typed body" in page and 'class="errors"' in page
    assert count(db, Activity) == 0
    assert count(db, AuditEvent, AuditEvent.action == "activity.logged") == 0


def test_tasks_are_created_done_and_undone_with_audit_events(db, own, make_user):
    client, user, startup = own
    manager = make_user(Role.MANAGER, name="Mia Manager")
    page = page_of(client, startup)
    assert re.search(rf'<option selected value="{user.id}">', page)  # default: the owner
    response = post(client, f"/startups/{startup.id}/tasks",
                    {"title": "Send visa letter", "due_on": "2026-12-01",
                     "assignee": manager.id})
    assert response.status_code == 302
    task = fresh(db).scalar(select(Task).where(Task.startup_id == startup.id))
    assert task.assignee_id == manager.id and task.created_by_id == user.id
    assert task.due_at.date() == datetime(2026, 12, 1).date()
    assert post(client, f"/tasks/{task.id}/done").status_code == 302
    assert fresh(db).get(Task, task.id).done_at is not None
    page = page_of(client, startup)
    assert "Task done: Send visa letter" in page and "Task created: Send visa letter" in page
    assert post(client, f"/tasks/{task.id}/reopen").status_code == 302
    assert fresh(db).get(Task, task.id).done_at is None
    assert audit_actions(db)[-3:] == ["task.created", "task.completed", "task.reopened"]


def test_a_task_for_someone_who_may_not_edit_is_refused(db, own, make_user):
    client, _user, startup = own
    other_bd = make_user(Role.BD_MANAGER)
    viewer = make_user(Role.VIEWER)
    for assignee in (other_bd.id, viewer.id, 999_999, ""):
        response = post(client, f"/startups/{startup.id}/tasks",
                        {"title": "Call back", "assignee": assignee})
        assert response.status_code == 422, assignee
    response = post(client, f"/startups/{startup.id}/tasks", {"title": "", "assignee": ""})
    assert response.status_code == 422
    assert count(db, Task) == 0


def test_done_from_the_task_list_goes_back_there_and_ignores_foreign_next(db, own):
    client, user, startup = own
    post(client, f"/startups/{startup.id}/tasks", {"title": "First", "assignee": user.id})
    post(client, f"/startups/{startup.id}/tasks", {"title": "Second", "assignee": user.id})
    first, second = fresh(db).scalars(select(Task).order_by(Task.id)).all()
    listing = html.unescape(client.get("/tasks/").get_data(as_text=True))
    assert f'action="/tasks/{first.id}/done"' in listing
    response = post(client, f"/tasks/{first.id}/done", {"next": "/tasks/"})
    assert response.headers["Location"] == "/tasks/"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = post(client, f"/tasks/{second.id}/reopen", {"next": evil})
        assert response.headers["Location"].startswith(f"/startups/{startup.id}"), evil
    assert "First" not in html.unescape(client.get("/tasks/").get_data(as_text=True))


def test_viewers_and_other_bd_managers_get_403_on_every_post(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER)
    startup = make_startup(db, owner_id=owner.id)
    task = Task(title="Owner's", startup_id=startup.id, assignee_id=owner.id)
    db.add(task)
    db.commit()
    for role in (Role.VIEWER, Role.BD_MANAGER):
        client, _user = client_as(role)
        page = page_of(client, startup)
        assert f'action="/startups/{startup.id}/activities"' not in page
        assert f'action="/tasks/{task.id}/done"' not in page
        for url, data in ((f"/startups/{startup.id}/activities", {"kind": "note", "subject": "x"}),
                          (f"/startups/{startup.id}/tasks", {"title": "x", "assignee": owner.id}),
                          (f"/tasks/{task.id}/done", {}), (f"/tasks/{task.id}/reopen", {})):
            assert post(client, url, data).status_code == 403, (role, url)
    assert count(db, Activity) == 0 and count(db, Task) == 1
    assert fresh(db).get(Task, task.id).done_at is None


def test_posts_without_csrf_are_refused(db, own):
    client, _user, startup = own
    response = client.post(f"/startups/{startup.id}/activities",
                           data={"kind": "note", "subject": "x"})
    assert response.status_code == 400
    assert count(db, Activity) == 0


def _add_activities(db: Session, startup: Startup, number: int, start: datetime) -> None:
    for i in range(number):
        db.add(Activity(startup_id=startup.id, kind=ActivityKind.NOTE, subject=f"Note {i:02d}",
                        occurred_at=start + timedelta(hours=i)))
    db.commit()


def test_the_timeline_merges_sources_newest_first_and_pages_back(app, db, own):
    client, user, startup = own
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    _add_activities(db, startup, 40, start)
    db.add(OutboxMessage(dedupe_key="t1", to_address="founder@robotics.example",
                         subject="Welcome to Düsseldorf", body_text="Hi",
                         startup_id=startup.id, created_at=start + timedelta(hours=35, minutes=30)))
    db.commit()
    page = page_of(client, startup)
    notes = re.findall(r"Note (\d\d)", page)
    assert notes == [f"{i:02d}" for i in range(39, 10, -1)]  # 29 notes + the email = 30
    assert "Welcome to Düsseldorf" in page and "founder@robotics.example" in page
    older = re.search(r'href="([^"]*before=[^"]*)"', page).group(1)
    assert "robotics" not in older and "@" not in older
    older_page = html.unescape(client.get(html.unescape(older)).get_data(as_text=True))
    assert re.findall(r"Note (\d\d)", older_page) == [f"{i:02d}" for i in range(10, -1, -1)]
    assert "Show older" not in older_page
    # garbage in the parameter means "the newest"
    assert re.findall(r"Note (\d\d)", page_of(client, startup, before="not a time")) == notes


def test_stage_events_show_programme_stage_labels_and_actor_in_german(db, own):
    client, user, startup = own
    programme = make_programme(db)
    client.post(f"/startups/{startup.id}/enrollments",
                data={"programme": programme.id,
                      "csrf_token": csrf_token(client, f"/startups/{startup.id}")})
    page = page_of(client, startup)
    assert "Corridor: enrolled at Lead" in page
    timeline = startup_timeline(fresh(db), startup.id, "de")
    stage_entries = [entry for entry in timeline.entries if entry.kind == "stage"]
    assert stage_entries and stage_entries[0].programme_name == "Korridor"
    assert stage_entries[0].to_label == "Interessent" and stage_entries[0].actor_name == user.name


def test_boundary_moments_are_not_skipped_between_pages(db, own):
    _client, _user, startup = own
    moment = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for i in range(35):
        db.add(Activity(startup_id=startup.id, kind=ActivityKind.NOTE, subject=f"N{i}",
                        occurred_at=moment if i >= 25 else moment - timedelta(minutes=100 - i)))
    db.commit()
    seen = []
    timeline = startup_timeline(fresh(db), startup.id, "en")
    seen += [entry.activity.id for entry in timeline.entries]
    while timeline.older_before is not None:
        timeline = startup_timeline(db, startup.id, "en", before=timeline.older_before)
        seen += [entry.activity.id for entry in timeline.entries]
    assert len(seen) == len(set(seen)) == 35


def test_the_page_runs_the_same_queries_for_3_and_30_activities(db, own, count_queries):
    client, user, few = own
    many = make_startup(db, "Many GmbH", owner_id=user.id)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _add_activities(db, few, 3, start)
    _add_activities(db, many, 30, start)
    for startup in (few, many):
        post(client, f"/startups/{startup.id}/tasks", {"title": "T", "assignee": user.id})
    page_of(client, few)  # warm up
    with count_queries() as for_few:
        page_of(client, few)
    with count_queries() as for_many:
        page_of(client, many)
    assert len(for_few) == len(for_many), "\n".join(for_many)
