"""The task list and the task actions: the programme an enrollment's task belongs to, snooze
and reassign (from the list, back to it), who may be given a task, refusals and their audit."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups import services
from crm.startups.models import Task
from crm.users.models import User
from crm.users.services import set_active
from crm.workflow import engine
from tests.conftest import csrf_token, fresh
from tests.factories import add_task, make_programme, make_startup
from tests.helpers import post_keeping_flashes as post
from tests.helpers import stored

FRIDAY = datetime(2026, 3, 27, 10, tzinfo=UTC)  # a week before Good Friday (3 April 2026)


@pytest.fixture
def own(db, client_as):
    """A BD manager's client, the BD manager and a startup they own."""
    client, user = client_as(Role.BD_MANAGER)
    return client, user, make_startup(db, owner_id=user.id)


def listing(client, **params) -> str:
    response = client.get("/tasks/", query_string=params)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def audit_actions(db: Session) -> list[str]:
    return list(fresh(db).scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def options_of(page: str, task: Task) -> list[str]:
    select_html = page.split(f'id="reassign-{task.id}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r"<option[^>]*>([^<]+)</option>", select_html)


def test_a_task_of_an_enrollment_shows_its_programme_in_the_users_language(app, db, own):
    client, user, startup = own
    programme = make_programme(db)
    with app.app_context():  # Intake's on-enter action creates "Review" for the owner
        engine.enroll(db, startup=startup, programme=programme, actor=engine.Actor.user(user),
                      stage="intake")
        db.commit()
    task = fresh(db).scalar(select(Task).where(Task.startup_id == startup.id))
    assert task.enrollment_id is not None
    page = listing(client)
    line = page.split(f'action="/tasks/{task.id}/done"', 1)[0].rsplit("<strong>", 1)[1]
    assert line.startswith("Review</strong>") and "· Corridor" in line
    assert f'href="/startups/{startup.id}">Bengaluru Robotics</a>' in line
    client.post("/locale", data={"locale": "de", "csrf_token": csrf_token(client, "/tasks/")})
    assert "· Korridor" in listing(client)


def test_snooze_and_reassign_from_the_list_go_back_to_it(db, own, make_user, clock):
    client, user, startup = own
    manager = make_user(Role.MANAGER, name="Mia Manager")
    clock(FRIDAY)
    task = add_task(db, "Call back", user, datetime(2026, 3, 20, tzinfo=UTC), startup=startup)
    page = listing(client)
    assert f'action="/tasks/{task.id}/snooze"' in page and 'value="/tasks/"' in page
    assert post(client, f"/tasks/{task.id}/snooze",
                {"until": "next_week", "next": "/tasks/"}).headers["Location"] == "/tasks/"
    # a week from Friday is Good Friday, then Easter Monday: the next working day is Tuesday
    assert stored(db, task).due_at == datetime(2026, 4, 7, 21, 59, 59, 999999, tzinfo=UTC)
    assert post(client, f"/tasks/{task.id}/reassign",
                {"assignee": manager.id, "next": "/tasks/"}).headers["Location"] == "/tasks/"
    assert stored(db, task).assignee_id == manager.id
    page = listing(client)
    assert "Task moved to Apr 7, 2026." in page and "Task given to Mia Manager." in page
    assert "Call back" not in page  # it is the manager's now
    assert audit_actions(db)[-2:] == ["task.snoozed", "task.reassigned"]


def test_without_a_next_or_with_a_foreign_one_the_startup_page_is_where_it_goes(db, own):
    client, user, startup = own
    task = add_task(db, "Call back", user, startup=startup)
    for evil in ("", "https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = post(client, f"/tasks/{task.id}/snooze", {"until": "tomorrow", "next": evil})
        assert response.headers["Location"] == f"/startups/{startup.id}#tasks", evil


def test_only_people_who_may_work_on_the_startup_are_offered_and_accepted(db, own, make_user):
    client, user, startup = own
    make_user(Role.MANAGER, name="Mia Manager")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    other_bd = make_user(Role.BD_MANAGER, name="Otto Other")
    viewer = make_user(Role.VIEWER, name="Vera Viewer")
    gone = make_user(Role.MANAGER, name="Gerd Gone")
    set_active(db, db.get(User, gone.id), False, db.get(User, admin.id))
    db.commit()
    task = add_task(db, "Call back", user, startup=startup)
    floating = add_task(db, "No startup", user)
    page = listing(client)
    assert options_of(page, task) == ["Ada Admin", user.name, "Mia Manager"]
    assert options_of(page, floating) == ["Ada Admin", user.name, "Mia Manager", "Otto Other"]
    assert re.search(rf'<option value="{user.id}" selected>', page)
    before = audit_actions(db)
    for refused in (other_bd.id, viewer.id, gone.id, 999_999, "", "x"):
        response = post(client, f"/tasks/{task.id}/reassign", {"assignee": refused})
        assert response.status_code == 302, refused
        assert stored(db, task).assignee_id == user.id, refused
    assert audit_actions(db) == before
    assert "Choose someone who may work on this task" in listing(client)
    # a task without a startup may go to any active BD manager, manager or admin
    assert post(client, f"/tasks/{floating.id}/reassign",
                {"assignee": other_bd.id}).status_code == 302
    assert stored(db, floating).assignee_id == other_bd.id


def test_reassigning_to_the_same_person_changes_nothing(db, own):
    client, user, startup = own
    task = add_task(db, "Call back", user, startup=startup)
    before = audit_actions(db)
    assert post(client, f"/tasks/{task.id}/reassign", {"assignee": user.id}).status_code == 302
    assert audit_actions(db) == before


def test_a_done_task_is_not_snoozed_and_a_bad_option_changes_nothing(db, own):
    client, user, startup = own
    done = add_task(db, "Done already", user, startup=startup,
                    done_at=datetime(2026, 3, 1, tzinfo=UTC))
    task = add_task(db, "Open", user, datetime(2026, 3, 20, tzinfo=UTC), startup=startup)
    before = audit_actions(db)
    post(client, f"/tasks/{done.id}/snooze", {"until": "tomorrow", "next": "/tasks/"})
    assert "This task is done already." in listing(client)
    for bad in ("tomorrow\x00", "", "someday"):  # (a 400 page would show the flashes)
        response = post(client, f"/tasks/{task.id}/snooze", {"until": bad, "next": "/tasks/"})
        assert response.status_code in (302, 400), bad
    assert stored(db, task).due_at == datetime(2026, 3, 20, tzinfo=UTC)
    assert stored(db, done).due_at is None
    assert audit_actions(db) == before
    assert "This form is incomplete" in listing(client)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER])
def test_viewers_and_other_bd_managers_may_not_snooze_or_reassign(db, client_as, make_user, role):
    owner = make_user(Role.BD_MANAGER)
    manager = make_user(Role.MANAGER)
    startup = make_startup(db, owner_id=owner.id)
    task = add_task(db, "Owner's", owner, datetime(2026, 3, 20, tzinfo=UTC), startup=startup)
    floating = add_task(db, "Owner's own note", owner)
    client, _user = client_as(role)
    for target in (task, floating):
        assert post(client, f"/tasks/{target.id}/snooze",
                    {"until": "tomorrow"}).status_code == 403
        assert post(client, f"/tasks/{target.id}/reassign",
                    {"assignee": manager.id}).status_code == 403
    assert stored(db, task).due_at == datetime(2026, 3, 20, tzinfo=UTC)
    assert stored(db, task).assignee_id == owner.id
    assert not [action for action in audit_actions(db) if action.startswith("task.")]
    assert post(client, "/tasks/999999/snooze", {"until": "tomorrow"}).status_code == 404


def test_managers_reassign_any_startups_task_to_its_owner(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER, name="Olga Owner")
    startup = make_startup(db, owner_id=owner.id)
    client, manager = client_as(Role.MANAGER)
    task = add_task(db, "Visa letter", manager, startup=startup)
    page = listing(client)
    assert options_of(page, task) == [manager.name, "Olga Owner"]
    assert post(client, f"/tasks/{task.id}/reassign", {"assignee": owner.id}).status_code == 302
    assert stored(db, task).assignee_id == owner.id
    everyone = listing(client, scope="all")
    assert "Visa letter" in everyone and "Olga Owner" in everyone


def test_posts_without_csrf_are_refused(db, own):
    client, user, startup = own
    task = add_task(db, "Call back", user, startup=startup)
    assert client.post(f"/tasks/{task.id}/snooze", data={"until": "tomorrow"}).status_code == 400
    assert client.post(f"/tasks/{task.id}/reassign",
                       data={"assignee": user.id}).status_code == 400
    assert stored(db, task).due_at is None


def test_the_services_check_permissions_themselves(app, db, make_user):
    owner = make_user(Role.BD_MANAGER)
    other_bd = make_user(Role.BD_MANAGER)
    viewer = make_user(Role.VIEWER)
    startup = make_startup(db, owner_id=owner.id)
    task = add_task(db, "Owner's", owner, startup=startup)
    until = datetime(2026, 4, 1, tzinfo=UTC)
    for actor in (viewer, other_bd):
        with pytest.raises(services.NotAllowed):
            services.snooze_task(db, task, until, actor)
        with pytest.raises(services.NotAllowed):
            services.reassign_task(db, task, owner, actor)
    with pytest.raises(services.NotAllowed):  # the owner may act, but not give it to them
        services.reassign_task(db, task, other_bd, owner)
    task.done_at = until
    with pytest.raises(services.TaskDone):
        services.snooze_task(db, task, until, owner)
    db.rollback()
    assert stored(db, task).assignee_id == owner.id and stored(db, task).done_at is None


def test_the_list_runs_the_same_queries_for_5_and_100_tasks(db, client_as, make_user,
                                                            count_queries):
    make_user(Role.MANAGER)  # someone to give any task to
    few_client, few = client_as(Role.BD_MANAGER)
    many_client, many = client_as(Role.BD_MANAGER)
    for user, number in ((few, 5), (many, 100)):
        startup = make_startup(db, f"Startup of {user.name}", owner_id=user.id)
        db.add_all([Task(title=f"T{i}", assignee_id=user.id,
                         startup_id=startup.id if i % 2 else None) for i in range(number)])
    db.commit()
    listing(few_client)
    with count_queries() as for_few:
        listing(few_client)
    with count_queries() as for_many:
        page = listing(many_client)
    assert len(for_few) == len(for_many) <= 6, "\n".join(for_many)
    assert page.count('action="/tasks/') == 3 * 100
