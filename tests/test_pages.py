"""Every navigation page for every role, with data and empty; the language switch; the
startup list's search and keyset pagination; bad input never gives a 500."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, gettext
from sqlmodel import Session

from crm.core.enums import Role, StartupStatus
from crm.startups.models import Startup, Task
from crm.startups.search import refresh_search_fields
from crm.users.models import User
from crm.workflow.models import Enrollment
from tests.conftest import csrf_token, fresh, login
from tests.factories import current_version_id, definition, make_programme, stage

ALL_ROLES = list(Role)
STAGES = [
    stage("applied", "Applied", "Beworben"),
    stage("soft_landing", "Soft landing", "Sanfte Landung"),
    stage("landed", "Landed here", "Angekommen", closes_as="landed"),
]


def programme_definition(key: str, name_en: str, name_de: str) -> dict:
    return definition(key=key, name={"en": name_en, "de": name_de}, stages=STAGES,
                      intake_stage=None, checklist=[], fields=[])


def seed_pipeline(db: Session, user: User) -> dict:
    """A programme with stages, a startup owned by and a task for `user`, one enrollment."""
    now = datetime.now(UTC)
    programme = make_programme(db, programme_definition("corridor", "Korea Corridor",
                                                        "Korea-Korridor"))
    startup = Startup(name="Hanbit Robotics", country="KR", city="Seoul",
                      website="https://hanbit.example", domain="hanbit.example",
                      owner_id=user.id, status=StartupStatus.ACTIVE)
    db.add(startup)
    db.flush()
    enrollment = Enrollment(startup_id=startup.id, programme_id=programme.id,
                            programme_version_id=current_version_id(db, programme),
                            stage="soft_landing", stage_entered_at=now - timedelta(days=3),
                            due_at=now - timedelta(days=1))
    db.add(enrollment)
    db.flush()
    task = Task(title="Book the welcome meeting", startup_id=startup.id,
                enrollment_id=enrollment.id, assignee_id=user.id, created_by_id=user.id,
                due_at=now + timedelta(days=2))
    db.add(task)
    db.commit()
    return {"programme": programme, "startup": startup, "enrollment": enrollment, "task": task}


def save(db: Session, startups: list[Startup]) -> None:
    """Store startups with their search text, as the services do."""
    db.add_all(startups)
    db.flush()
    for startup in startups:
        refresh_search_fields(db, startup)
    db.commit()


def text_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def german(app, msgid: str) -> str:
    """The German translation; failing here means the catalogue lacks it."""
    with app.test_request_context(), force_locale("de"):
        text = gettext(msgid)
    assert text != msgid, f"no German translation for {msgid!r}"
    return text


# --- the pages, with data ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_page_shows_the_data_to_every_role(client_as, db, role):
    client, user = client_as(role)
    data = seed_pipeline(db, user)
    startup_id = data["startup"].id

    startups = text_of(client.get("/"))
    assert "Hanbit Robotics" in startups and "hanbit.example" in startups
    assert "1 startup" in startups and f"<td>{user.name}</td>" in startups  # the owner

    show = text_of(client.get(f"/startups/{startup_id}"))
    assert "<h1>Hanbit Robotics</h1>" in show
    assert "Korea Corridor" in show and "Stage: Soft landing" in show
    assert "Book the welcome meeting" in show
    assert "South Korea, Seoul" in show

    board = text_of(client.get("/pipeline/"))
    column = re.search(r'<section [^>]*id="column-soft_landing".*?</section>',
                       board, re.S).group(0)
    assert "Hanbit Robotics" in column and "3 days in stage" in column
    assert 'class="board-card board-card-overdue' in column
    assert "No startups in this stage." in board  # the other stages

    tasks = text_of(client.get("/tasks/"))
    assert "Book the welcome meeting" in tasks and "Hanbit Robotics" in tasks

    reports = text_of(client.get("/reports/"))  # the last 12 weeks: the startup is new
    assert '<h2 id="leads-title">New leads: 1</h2>' in reports
    assert re.search(r'<tr><td>South Korea</td><td class="chart-bar">.*?</td>'
                     r'<td class="num">1</td></tr>', reports, re.S)

    admin = client.get("/admin/users")
    if role is Role.ADMIN:
        assert user.email in text_of(admin)
    else:
        assert admin.status_code == 403


def test_navigation_marks_the_current_page(client_as):
    client, _ = client_as(Role.VIEWER)

    page = text_of(client.get("/reports/"))

    assert re.search(r'<a href="/reports/"\s+aria-current="page">Reports</a>', page)
    assert "Admin</a>" not in page


def test_tasks_show_mine_and_everyones_only_to_those_allowed(client_as, make_user, db):
    manager_client, manager = client_as(Role.MANAGER)
    bd_client, bd_manager = client_as(Role.BD_MANAGER)
    seed_pipeline(db, bd_manager)
    db.add(Task(title="Manager's own task", assignee_id=manager.id))
    db.commit()

    mine = text_of(manager_client.get("/tasks/"))
    assert "Manager's own task" in mine and "Book the welcome meeting" not in mine
    everyone = text_of(manager_client.get("/tasks/?scope=all"))
    assert "Manager's own task" in everyone and "Book the welcome meeting" in everyone

    bd_all = text_of(bd_client.get("/tasks/?scope=all"))  # not allowed: their own only
    assert "Book the welcome meeting" in bd_all and "Manager's own task" not in bd_all
    assert "Show everyone’s" not in bd_all


def test_done_tasks_are_not_listed(client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    db.add_all([Task(title="Still to do", assignee_id=user.id),
                Task(title="Already done", assignee_id=user.id,
                     done_at=datetime.now(UTC))])
    db.commit()

    page = text_of(client.get("/tasks/"))

    assert "Still to do" in page and "Already done" not in page


# --- the pages, empty ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_page_has_an_empty_state(client_as, role):
    client, _ = client_as(role)

    startups = text_of(client.get("/"))
    assert "No startups yet." in startups and "0 startups" in startups
    assert "Next page" not in startups
    assert "No programmes yet." in text_of(client.get("/pipeline/"))
    assert "No open tasks. Well done." in text_of(client.get("/tasks/"))
    reports = text_of(client.get("/reports/"))
    assert "No programmes yet." in reports and "No new leads in this period." in reports
    assert client.get("/startups/1").status_code == 404


def test_a_startup_with_nothing_attached_has_empty_sections(client_as, db):
    client, _ = client_as(Role.VIEWER)
    startup = Startup(name="Lonely GmbH", country="DE")
    db.add(startup)
    db.commit()

    page = text_of(client.get(f"/startups/{startup.id}"))

    for empty in ("Not enrolled in any programme.", "No contacts yet.", "No open tasks.",
                  "Nothing logged yet.", "Unassigned"):
        assert empty in page


def test_a_programme_without_enrollments_shows_empty_columns(client_as, db):
    client, _ = client_as(Role.VIEWER)
    make_programme(db, programme_definition("welcome", "Welcome Package", "Willkommenspaket"))

    page = text_of(client.get("/pipeline/"))

    assert "Pipeline: Welcome Package" in page
    assert page.count("No startups in this stage.") == len(STAGES)


# --- the language switch ------------------------------------------------------------------------


def switch(client, locale: str, next_path: str):
    return client.post("/locale", data={"locale": locale, "next": next_path,
                                        "csrf_token": csrf_token(client, next_path)})


def test_language_switch_changes_the_ui_and_is_kept_for_the_user(app, client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    seed_pipeline(db, user)
    english = text_of(client.get("/pipeline/"))
    assert "Log out" in english and "Abmelden" not in english

    response = switch(client, "de", "/pipeline/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/pipeline/"
    page = text_of(client.get("/pipeline/"))
    assert '<html lang="de">' in page
    assert "Abmelden" in page and "Log out" not in page
    assert "Pipeline: Korea-Korridor" in page  # the programme's German name
    assert "Sanfte Landung" in page
    assert german(app, "Reports") in page
    assert fresh(db).get(User, user.id).locale == "de"

    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks/")})
    login(client, user.email)
    assert "Abmelden" in text_of(client.get("/tasks/"))  # saved with the account

    switch(client, "en", "/tasks/")
    assert "Log out" in text_of(client.get("/tasks/"))
    assert fresh(db).get(User, user.id).locale == "en"


def test_language_switch_works_before_login(app, client):
    switch(client, "de", "/login")

    page = text_of(client.get("/login"))

    assert '<html lang="de">' in page
    assert german(app, "Log in to Landing Desk") in page


def test_browser_language_is_used_until_one_is_chosen(app, client):
    page = text_of(client.get("/login", headers={"Accept-Language": "de-AT,de;q=0.9"}))
    assert german(app, "Log in to Landing Desk") in page

    switch(client, "en", "/login")
    page = text_of(client.get("/login", headers={"Accept-Language": "de"}))
    assert "Log in to Landing Desk" in page


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example"])
def test_language_switch_stays_on_site(client, target):
    response = switch(client, "de", "/login")
    response = client.post("/locale", data={"locale": "de", "next": target,
                                            "csrf_token": csrf_token(client)})

    assert response.status_code == 302
    assert response.headers["Location"] == "/work/"


def test_an_unknown_language_changes_nothing(client_as, db):
    client, user = client_as(Role.VIEWER)

    response = switch(client, "fr", "/tasks/")

    assert response.status_code == 302
    assert "Log out" in text_of(client.get("/tasks/"))
    assert fresh(db).get(User, user.id).locale == "en"


# --- startups: search and keyset pagination ------------------------------------------------------


def ids_on(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<td><a href="/startups/(\d+)">', page)]


def next_link(page: str) -> str | None:
    match = re.search(r'<a href="([^"]+)">Next page</a>', page)
    return html.unescape(match.group(1)) if match else None


def walk_pages(client, start: str) -> list[list[int]]:
    pages, url = [], start
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append(ids_on(page))
        url = next_link(page)
        assert len(pages) < 10, "pagination does not end"
    return pages


def test_startup_list_pages_by_50_and_page_two_continues_after_the_50th(client_as, db):
    client, _ = client_as(Role.VIEWER)
    names = [f"Startup {number:03d}" for number in range(1, 61)]
    save(db, [Startup(name=name, country="KR") for name in reversed(names)])

    first = text_of(client.get("/"))
    assert "60 startups" in first
    assert len(ids_on(first)) == 50
    assert "Startup 050" in first and "Startup 051" not in first
    link = next_link(first)
    assert re.fullmatch(r"/\?after=[\w-]+=*", link)

    second = text_of(client.get(link))
    assert len(ids_on(second)) == 10
    assert "Startup 051" in second and "Startup 060" in second and "Startup 050" not in second
    assert next_link(second) is None
    assert 'href="/">First page</a>' in second


def test_pagination_loses_and_repeats_nothing_when_names_repeat(client_as, db):
    client, _ = client_as(Role.VIEWER)
    # Names repeat in threes, so equal names straddle the page boundary.
    startups = [Startup(name=f"Acme {number // 3:02d}", country="KR") for number in range(60)]
    startups += [Startup(name=f"Zenith {number}", country="DE") for number in range(5)]
    save(db, startups)
    acme_ids = {s.id for s in startups if s.name.startswith("Acme")}

    pages = walk_pages(client, "/?q=acme")

    assert [len(page) for page in pages] == [50, 10]
    seen = [startup_id for page in pages for startup_id in page]
    assert len(seen) == len(set(seen)) == 60
    assert set(seen) == acme_ids
    everything = [i for page in walk_pages(client, "/") for i in page]
    assert sorted(everything) == sorted(s.id for s in startups)


def test_next_link_keeps_the_search_and_status(client_as, db):
    client, _ = client_as(Role.VIEWER)
    save(db, [Startup(name=f"Beta {number:02d}", country="KR", status=StartupStatus.LEAD)
              for number in range(55)]
         + [Startup(name="Beta active", country="KR", status=StartupStatus.ACTIVE)])

    first = text_of(client.get("/?q=beta&status=lead"))
    link = next_link(first)

    assert "q=beta" in link and "status=lead" in link
    second = text_of(client.get(link))
    assert len(ids_on(second)) == 5 and "Beta active" not in second


def test_search_matches_name_or_domain_and_takes_wildcards_literally(client_as, db):
    client, _ = client_as(Role.VIEWER)
    save(db, [
        Startup(name="100% Solar", country="DE"),
        Startup(name="Plain Energy", country="DE", domain="plain-energy.example"),
        Startup(name="Under_score Labs", country="DE"),
        Startup(name="Underscore Labs", country="DE"),
    ])

    def names(query: str) -> list[str]:
        page = text_of(client.get("/", query_string={"q": query}))
        return re.findall(r'<td><a href="/startups/\d+">(.*?)</a>', page)

    assert names("%") == ["100% Solar"]
    assert names("_") == ["Under_score Labs"]
    assert names("PLAIN-ENERGY.EX") == ["Plain Energy"]
    assert names("solar") == ["100% Solar"]
    assert "No startup matches these filters." in text_of(client.get("/?q=nothing-like-it"))


# --- bad input never gives a 500 -----------------------------------------------------------------


@pytest.mark.parametrize(("url", "status"), [
    ("/?after=not-a-number", 200),
    ("/?after=99999999", 200),
    ("/?after=-1", 200),
    ("/?status=bogus", 200),
    ("/?status=", 200),
    ("/?q=" + "x" * 5000, 200),
    ("/?q=%27%22%5C%25", 200),
    ("/?q=a%00b", 400),  # PostgreSQL cannot compare text with NUL in it
    ("/startups/99999999", 404),
    ("/startups/abc", 404),
    ("/pipeline/?programme=nope", 200),
    ("/tasks/?scope=everything", 200),
    ("/invitation/", 404),
    ("/admin/users/1/role", 405),
])
def test_odd_urls_get_a_clear_answer(client_as, db, url, status):
    client, user = client_as(Role.ADMIN)
    seed_pipeline(db, user)

    response = client.get(url)

    assert response.status_code == status
    if status >= 400:
        assert '<section class="error-page">' in response.get_data(as_text=True)


def test_status_filter_lists_only_that_status(client_as, db):
    client, _ = client_as(Role.VIEWER)
    db.add_all([Startup(name="Lead One", country="DE", status=StartupStatus.LEAD),
                Startup(name="Landed One", country="DE", status=StartupStatus.LANDED)])
    db.commit()

    page = text_of(client.get("/?status=landed"))

    assert "Landed One" in page and "Lead One" not in page
    assert '<option value="landed" selected>' in page
