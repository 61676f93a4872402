"""My work: tasks grouped by due day in Berlin, enrollments past or near their SLA, startups
assigned lately, one-click done/snooze/reassign back to the page, teammates for managers only,
empty states, and a query count that does not grow with the tasks."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, Role
from crm.startups.models import Startup, Task
from crm.users.models import User
from crm.workflow import engine
from crm.workflow.models import Enrollment
from tests.conftest import csrf_token, login
from tests.factories import add_task, make_programme, make_startup
from tests.helpers import audit_events, post_keeping_flashes, stored

# Tuesday 10 March 2026, 23:30 in Berlin (CET, UTC+1): half an hour before the local midnight.
LATE_TUESDAY = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
TUESDAY_MORNING = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


def work_page(client, **params) -> str:
    response = client.get("/work/", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def groups_of(page: str) -> dict[str, str]:
    """Each task group's HTML by key (overdue, today, week, later)."""
    parts = page.split('<section class="work-group" id="tasks-')[1:]
    return {part.split('"', 1)[0]: part.split("</section>", 1)[0] for part in parts}


def titles_in(fragment: str) -> list[str]:
    return re.findall(r"<strong>([^<]+)</strong>", fragment)


def sla_lists(page: str) -> tuple[str, str]:
    past = page.split('id="sla-past"', 1)[1].split('id="sla-near"', 1)[0]
    near = page.split('id="sla-near"', 1)[1].split('id="work-recent-title"', 1)[0]
    return past, near


def recent_list(page: str) -> str:
    return page.split('id="work-recent-title"', 1)[1].split("</section>", 1)[0]


def post(client, url: str, data: dict | None = None):
    return post_keeping_flashes(client, url, data, token_from="/work/")


# --- grouping by due day -------------------------------------------------------------------


def test_tasks_are_grouped_by_the_day_in_berlin_not_in_utc(db, bd, clock, make_user):
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    clock(LATE_TUESDAY)
    add_task(db, "Overdue call", user, datetime(2026, 3, 10, 22, 0, tzinfo=UTC), startup=startup)
    add_task(db, "Late tonight", user, datetime(2026, 3, 10, 22, 45, tzinfo=UTC))
    # Still Tuesday in UTC, but Wednesday 00:30 in Berlin:
    add_task(db, "After midnight", user, datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    add_task(db, "Sunday night", user, datetime(2026, 3, 15, 22, 59, tzinfo=UTC))
    add_task(db, "Monday early", user, datetime(2026, 3, 15, 23, 30, tzinfo=UTC))
    add_task(db, "Someday", user)
    add_task(db, "Already done", user, datetime(2026, 3, 10, 22, 0, tzinfo=UTC), done=True)
    add_task(db, "Someone else's", make_user(Role.BD_MANAGER),
             datetime(2026, 3, 10, 22, 0, tzinfo=UTC))

    groups = groups_of(work_page(client))
    assert {key: titles_in(part) for key, part in groups.items()} == {
        "overdue": ["Overdue call"],
        "today": ["Late tonight"],
        "week": ["After midnight", "Sunday night"],
        "later": ["Monday early", "Someday"],
    }
    assert 'class="overdue">Overdue <span class="badge">1</span>' in groups["overdue"]
    assert f'href="/startups/{startup.id}">Bengaluru Robotics</a>' in groups["overdue"]

    clock(datetime(2026, 3, 10, 23, 15, tzinfo=UTC))  # Wednesday 00:15 in Berlin
    groups = groups_of(work_page(client))
    assert titles_in(groups["overdue"]) == ["Overdue call", "Late tonight"]
    assert titles_in(groups["today"]) == ["After midnight"]


def test_a_deadline_at_local_midnight_belongs_to_the_day_it_ends(db, bd, clock):
    client, user = bd
    clock(TUESDAY_MORNING)
    # 00:00 on Wednesday in Berlin is the end of Tuesday (how SLAs and on-enter tasks are due).
    add_task(db, "Due at midnight", user, datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    add_task(db, "Due end of Sunday", user, datetime(2026, 3, 15, 23, 0, tzinfo=UTC))
    groups = groups_of(work_page(client))
    assert titles_in(groups["today"]) == ["Due at midnight"]
    assert titles_in(groups["week"]) == ["Due end of Sunday"]


def test_empty_states_say_so(bd):
    client, _user = bd
    page = work_page(client)
    for text in ("Nothing overdue — well done.", "Nothing due today.",
                 "Nothing else due this week.", "Nothing planned for later.",
                 "No enrollment is past its SLA.", "Nothing comes due in the next working days.",
                 "No startups assigned lately."):
        assert text in page, text
    assert "<h1>My work</h1>" in page


def test_a_long_group_shows_its_first_tasks_and_its_total(db, bd, clock):
    client, user = bd
    clock(TUESDAY_MORNING)
    db.add_all([Task(title=f"Old {i:02d}", assignee_id=user.id,
                     due_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=i))
                for i in range(25)])
    db.commit()
    overdue = groups_of(work_page(client))["overdue"]
    assert titles_in(overdue) == [f"Old {i:02d}" for i in range(20)]
    assert "Showing 20 of 25." in overdue and 'href="/tasks/"' in overdue
    assert '<span class="badge">25</span>' in overdue


# --- programme deadlines and new startups ----------------------------------------------------


def _enroll(app, db: Session, programme, startup: Startup, at: datetime) -> Enrollment:
    with app.app_context():  # on-enter actions render emails; the session stays the test's
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=engine.Actor.system(), now=at)
        db.commit()
    return enrollment


def test_enrollments_past_and_near_their_sla_in_working_days(app, db, bd, clock, make_user):
    client, user = bd
    programme = make_programme(db)  # Lead: 5 working days
    late = make_startup(db, "Late Labs", owner_id=user.id)
    soon = make_startup(db, "Soon GmbH", owner_id=user.id)
    later = make_startup(db, "Later AG", owner_id=user.id)
    closed = make_startup(db, "Closed Ltd", owner_id=user.id)
    others = make_startup(db, "Others Inc", owner_id=make_user(Role.BD_MANAGER).id)
    # due at the end of Tue 3 March: overdue on Wed 4, Thu 5, Fri 6, Mon 9 and Tue 10
    past = _enroll(app, db, programme, late, datetime(2026, 2, 24, 10, tzinfo=UTC))
    # due at the end of Thu 12 March: two working days left (Wed 11, Thu 12)
    near = _enroll(app, db, programme, soon, datetime(2026, 3, 5, 10, tzinfo=UTC))
    _enroll(app, db, programme, later, datetime(2026, 3, 6, 10, tzinfo=UTC))  # end of Fri 13: later
    gone = _enroll(app, db, programme, closed, datetime(2026, 2, 24, 10, tzinfo=UTC))
    with app.app_context():
        engine.close(db, gone, EnrollmentStatus.WITHDRAWN, engine.Actor.system(),
                     reason="Gone", now=datetime(2026, 2, 25, tzinfo=UTC))
        db.commit()
    _enroll(app, db, programme, others, datetime(2026, 2, 24, 10, tzinfo=UTC))
    assert past.due_at == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert near.due_at == datetime(2026, 3, 12, 23, 0, tzinfo=UTC)
    clock(TUESDAY_MORNING)

    past_list, near_list = sla_lists(work_page(client))
    assert f'href="/startups/{late.id}">Late Labs</a>' in past_list
    assert "Corridor · Lead" in past_list and "5 working days overdue" in past_list
    assert '<span class="badge">1</span>' in past_list
    assert f'href="/startups/{soon.id}">Soon GmbH</a>' in near_list
    assert "2 working days left" in near_list
    for name in ("Later AG", "Closed Ltd", "Others Inc"):
        assert name not in past_list + near_list, name

    clock(datetime(2026, 3, 12, 9, tzinfo=UTC))  # Thursday: Soon GmbH ends today
    past_list, near_list = sla_lists(work_page(client))
    assert "Soon GmbH" in near_list and "ends today" in near_list
    assert "Later AG" in near_list and "1 working day left" in near_list


def test_startups_assigned_lately_newest_first(db, bd, clock, make_user):
    client, user = bd
    clock(TUESDAY_MORNING)
    for days in range(12):
        make_startup(db, f"Fresh {days:02d}", owner_id=user.id, contact_email=None,
                     owner_assigned_at=TUESDAY_MORNING - timedelta(days=days, hours=1))
    make_startup(db, "Stale", owner_id=user.id, contact_email=None,
                 owner_assigned_at=TUESDAY_MORNING - timedelta(days=15))
    make_startup(db, "Not mine", owner_id=make_user(Role.BD_MANAGER).id, contact_email=None,
                 owner_assigned_at=TUESDAY_MORNING - timedelta(hours=1))
    recent = recent_list(work_page(client))
    assert re.findall(r">(Fresh \d\d|Stale|Not mine)</a>", recent) == [
        f"Fresh {days:02d}" for days in range(10)]


# --- one-click actions -------------------------------------------------------------------------


def test_done_snooze_and_reassign_from_my_work_come_back_to_it(db, bd, clock, make_user):
    client, user = bd
    manager = make_user(Role.MANAGER, name="Mia Manager")
    startup = make_startup(db, owner_id=user.id)
    clock(datetime(2026, 3, 13, 10, tzinfo=UTC))  # Friday
    first = add_task(db, "Call back", user, datetime(2026, 3, 12, 12, tzinfo=UTC), startup=startup)
    second = add_task(db, "Send deck", user, datetime(2026, 3, 12, 12, tzinfo=UTC),
                      startup=startup)
    third = add_task(db, "Book room", user, datetime(2026, 3, 12, 12, tzinfo=UTC),
                     startup=startup)
    page = work_page(client)
    for task in (first, second, third):
        for action in ("done", "snooze", "reassign"):
            assert f'action="/tasks/{task.id}/{action}"' in page
    assert 'name="next" value="/work/"' in page
    assert f'<option value="{manager.id}">Mia Manager</option>' in page

    response = post(client, f"/tasks/{first.id}/snooze", {"until": "tomorrow", "next": "/work/"})
    assert response.headers["Location"] == "/work/"
    # the next working day after Friday is Monday; due at its end in Berlin
    assert stored(db, first).due_at == datetime(2026, 3, 16, 22, 59, 59, 999999,
                                                            tzinfo=UTC)
    response = post(client, f"/tasks/{second.id}/reassign",
                    {"assignee": manager.id, "next": "/work/"})
    assert response.headers["Location"] == "/work/"
    assert stored(db, second).assignee_id == manager.id
    response = post(client, f"/tasks/{third.id}/done", {"next": "/work/"})
    assert response.headers["Location"] == "/work/"

    page = work_page(client)
    assert "Task given to Mia Manager." in page
    groups = groups_of(page)
    assert titles_in(groups["overdue"]) == []
    assert titles_in(groups["later"]) == ["Call back"]  # Monday is next week
    assert "Send deck" not in page and "Book room" not in page
    [snoozed] = audit_events(db, "task.snoozed")
    assert (snoozed.actor_user_id, snoozed.object_id) == (user.id, first.id)
    assert snoozed.details["after"] == "2026-03-16T22:59:59.999999+00:00"
    [reassigned] = audit_events(db, "task.reassigned")
    assert reassigned.details["before"] == user.id and reassigned.details["after"] == manager.id


def test_a_viewer_sees_the_page_but_no_actions_and_is_refused(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER)
    startup = make_startup(db, owner_id=owner.id)
    task = add_task(db, "Owner's", owner, startup=startup)
    client, viewer = client_as(Role.VIEWER)
    add_task(db, "Oddly the viewer's", viewer, startup=startup)
    page = work_page(client)
    assert "Oddly the viewer's" in page and "/snooze" not in page and "/done" not in page
    for action, data in (("done", {}), ("snooze", {"until": "tomorrow"}),
                         ("reassign", {"assignee": owner.id})):
        assert post(client, f"/tasks/{task.id}/{action}", data).status_code == 403, action
    assert stored(db, task).done_at is None
    assert audit_events(db, "task.snoozed") == audit_events(db, "task.reassigned") == []


# --- a teammate's work -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_pick_a_teammate_and_act_on_their_tasks(db, client_as, make_user, clock, role):
    teammate = make_user(Role.BD_MANAGER, name="Tariq Team")
    startup = make_startup(db, owner_id=teammate.id)
    clock(TUESDAY_MORNING)
    task = add_task(db, "Teammate's call", teammate, datetime(2026, 3, 9, tzinfo=UTC),
                    startup=startup)
    client, me = client_as(role)
    mine = work_page(client)
    assert "Teammate's call" not in mine
    assert f'<option value="{teammate.id}">Tariq Team</option>' in mine
    page = work_page(client, user=teammate.id)
    assert "<h1>Work of Tariq Team</h1>" in page
    assert titles_in(groups_of(page)["overdue"]) == ["Teammate's call"]
    assert f'<option value="{teammate.id}" selected>Tariq Team</option>' in page
    back = f"/work/?user={teammate.id}"
    assert f'name="next" value="{back}"' in page
    response = post(client, f"/tasks/{task.id}/snooze", {"until": "next_week", "next": back})
    assert response.headers["Location"] == back
    assert stored(db, task).due_at == datetime(2026, 3, 17, 22, 59, 59, 999999,
                                                           tzinfo=UTC)
    assert client.get("/work/?user=999999").status_code == 404
    assert client.get("/work/?user=abc").status_code == 404
    assert work_page(client, user=me.id).count("<h1>My work</h1>") == 1


@pytest.mark.parametrize("role", [Role.BD_MANAGER, Role.VIEWER])
def test_others_may_not_look_at_a_teammates_work(db, client_as, make_user, role):
    teammate = make_user(Role.BD_MANAGER)
    add_task(db, "Private-ish", teammate)
    client, me = client_as(role)
    assert client.get(f"/work/?user={teammate.id}").status_code == 403
    assert client.get("/work/?user=abc").status_code == 403
    page = work_page(client, user=me.id)  # their own is fine
    assert "Private-ish" not in page and 'id="work-user"' not in page


def test_login_lands_on_my_work_its_first_navigation_entry(client, bd):
    bd_client, user = bd
    response = login(client, user.email)
    assert response.headers["Location"] == "/work/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/work/")})
    page = work_page(bd_client)
    links = re.findall(r'<nav aria-label="Main">.*?</nav>', page, re.S)[0]
    assert re.findall(r'<a href="([^"]+)"', links)[0] == "/work/"
    assert re.search(r'href="/work/"\s+aria-current="page">My work<', page)
    response = client.get("/work/")
    assert response.status_code == 302 and "/login?next=/work/" in response.headers["Location"]


# --- a fixed number of queries -----------------------------------------------------------------


def _workload(app, db: Session, user: User, programme, tasks: int, label: str) -> None:
    """`tasks` open tasks over every group, half on startups (some with an enrollment),
    startups assigned lately, and enrollments past and near their SLA."""
    startups = [make_startup(db, f"{label} {i}", owner_id=user.id, contact_email=None,
                             owner_assigned_at=TUESDAY_MORNING - timedelta(days=i))
                for i in range(3)]
    enrollments = [_enroll(app, db, programme, startups[0], datetime(2026, 2, 24, tzinfo=UTC)),
                   _enroll(app, db, programme, startups[1], datetime(2026, 3, 5, 10, tzinfo=UTC))]
    offsets = (-30, -1, 0.2, 3, 40, None)
    db.add_all([
        Task(title=f"{label} task {i}", assignee_id=user.id,
             startup_id=startups[i % 3].id if i % 2 else None,
             enrollment_id=enrollments[i % 2].id if i % 4 == 1 else None,
             due_at=(None if offsets[i % 6] is None
                     else TUESDAY_MORNING + timedelta(days=offsets[i % 6])))
        for i in range(tasks)])
    db.commit()


def test_the_page_runs_the_same_few_queries_for_10_and_500_tasks(app, db, client_as, make_user,
                                                                   clock, count_queries):
    programme = make_programme(db)
    clock(TUESDAY_MORNING)
    light_client, light = client_as(Role.BD_MANAGER)
    heavy_client, heavy = client_as(Role.BD_MANAGER)
    make_user(Role.MANAGER)
    _workload(app, db, light, programme, 10, "Light")
    _workload(app, db, heavy, programme, 500, "Heavy")
    work_page(light_client)  # warm up
    with count_queries() as for_light:
        light_page = work_page(light_client)
    with count_queries() as for_heavy:
        heavy_page = work_page(heavy_client)
    assert len(for_light) == len(for_heavy) <= 7, "\n".join(for_heavy)
    assert "Corridor" in light_page and "Corridor" in heavy_page
    assert heavy_page.count('action="/tasks/') == 3 * 80  # 4 groups of at most 20, 3 forms

    manager_client, _manager = client_as(Role.MANAGER)
    work_page(manager_client, user=light.id)
    with count_queries() as for_light:
        work_page(manager_client, user=light.id)
    with count_queries() as for_heavy:
        work_page(manager_client, user=heavy.id)
    assert len(for_light) == len(for_heavy) <= 8, "\n".join(for_heavy)  # and the teammate
