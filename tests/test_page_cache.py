"""The page cache: the startups list served again from the store until a commit changes data,
whichever process commits; kept apart per user, language and session; never with a flash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import update

from crm.config import PROJECT_ROOT, Settings
from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.core.page_cache import HIT_HEADER, changes_shown_data
from crm.startups.models import Startup
from tests.conftest import CSRF_INPUT, login
from tests.factories import make_startup
from tests.test_startup_profile import NEW_STARTUP


@pytest.fixture
def store(request) -> str:
    """Where pages are kept: a folder, or Redis for the tests marked with both."""
    return getattr(request, "param", "folder")


BOTH_STORES = pytest.mark.parametrize("store", ["folder", "redis"], indirect=True)


@pytest.fixture
def settings(settings, store, tmp_path, request):
    """The test settings with the page cache on, in a folder or in Redis (a key prefix of
    the test's own: the cache's keys hold the generation, so tests never share pages)."""
    changes = {"page_cache_seconds": 60, "page_cache_folder": tmp_path / "pages"}
    if store == "redis":
        # A Redis database of each test process: another process's commits would replace
        # the generation these tests watch.
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
        server = request.getfixturevalue("redis_url").rsplit("/", 1)[0]
        changes["page_cache_url"] = f"{server}/{10 + worker}"
    return Settings(**{**settings.model_dump(), **changes})


def get(client, url: str = "/"):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[-1000:]
    return response


def is_hit(response) -> bool:
    return response.headers.get(HIT_HEADER) == "hit"


@pytest.fixture
def logged_in(client_as):
    """A client of a new user of the role, past the page that shows the login's welcome."""

    def log_in(role: Role = Role.BD_MANAGER):
        client, user = client_as(role)
        get(client, "/account/preferences")
        return client, user

    return log_in


@pytest.fixture
def bd(logged_in):
    return logged_in()


@BOTH_STORES
def test_the_list_is_served_again_from_the_cache_until_data_changes(bd, db):
    client, _user = bd
    startup = make_startup(db, "Bengaluru Robotics")
    first = get(client)
    again = get(client)
    assert not is_hit(first) and is_hit(again)
    assert again.get_data() == first.get_data()
    assert "Bengaluru Robotics" in again.get_data(as_text=True)

    db.execute(update(Startup).where(Startup.id == startup.id).values(name="Pune Drones"))
    db.commit()

    changed = get(client)
    assert not is_hit(changed)
    assert "Pune Drones" in changed.get_data(as_text=True)
    assert "Bengaluru Robotics" not in changed.get_data(as_text=True)
    assert is_hit(get(client))


def test_a_change_made_through_the_app_shows_at_once(bd):
    client, _user = bd
    get(client)
    assert is_hit(get(client))
    token = CSRF_INPUT.search(get(client, "/startups/new").get_data(as_text=True))[1]
    created = client.post("/startups/new", data={**NEW_STARTUP, "csrf_token": token})
    assert created.status_code == 302, created.get_data(as_text=True)[-2000:]
    assert "Seoul Sensors" in client.get("/").get_data(as_text=True)


@BOTH_STORES
def test_a_commit_in_another_process_drops_the_pages(bd, db, settings):
    """A worker (here: another Python process with the same settings) renames a startup."""
    client, _user = bd
    startup = make_startup(db, "Bengaluru Robotics")
    get(client)
    assert is_hit(get(client))
    environment = {**os.environ, "DATABASE_URL": settings.database_url, "ENV": "test",
                   "PAGE_CACHE_FOLDER": str(settings.page_cache_folder),
                   "PAGE_CACHE_URL": settings.page_cache_url or "",
                   "BROKER_FOLDER": str(settings.broker_folder)}
    script = (
        "from sqlalchemy import text\n"
        "from crm import create_app\n"
        "from crm.db import unit_of_work\n"
        "app = create_app()\n"
        "with app.app_context(), unit_of_work() as db:\n"
        "    db.execute(text(\"UPDATE startups SET name = 'Osaka Sensors' WHERE id = :id\"),\n"
        f"               {{'id': {startup.id}}})\n"
    )
    subprocess.run([sys.executable, "-c", script], env=environment, cwd=PROJECT_ROOT,
                   check=True, timeout=120)
    after = get(client)
    assert not is_hit(after)
    assert "Osaka Sensors" in after.get_data(as_text=True)


def test_writes_no_page_shows_and_rolled_back_writes_keep_the_pages(bd, db):
    client, _user = bd
    startup = make_startup(db)
    get(client)
    db.add(AuditEvent(action="startup.viewed", object_type="startup", object_id=startup.id))
    db.commit()
    assert is_hit(get(client))
    db.execute(update(Startup).where(Startup.id == startup.id).values(name="Never Saved"))
    db.rollback()
    assert is_hit(get(client))


@BOTH_STORES
def test_pages_are_kept_apart_per_user_language_and_session(logged_in, app, db):
    make_startup(db)
    (first, first_user), (second, second_user) = logged_in(), logged_in()
    get(first)
    page = get(second)
    assert not is_hit(page)
    assert f'<span class="whoami">{second_user.name} ·' in page.get_data(as_text=True)

    other_session = app.test_client()
    assert login(other_session, first_user.email).status_code == 302
    get(other_session, "/account/preferences")
    assert not is_hit(get(other_session))  # its own CSRF secret, so its own forms

    switched = first.post("/locale", data={"locale": "de", "next": "/", "csrf_token": CSRF_INPUT
                                           .search(get(first).get_data(as_text=True))[1]})
    assert switched.status_code == 302
    german = get(first)
    assert not is_hit(german)
    assert 'lang="de"' in german.get_data(as_text=True)


def test_a_cached_page_s_forms_are_accepted(bd, db):
    client, _user = bd
    startup = make_startup(db, "Bengaluru Robotics")
    get(client)
    cached = get(client)
    assert is_hit(cached)
    token = CSRF_INPUT.search(cached.get_data(as_text=True))[1]
    tagged = client.post("/startups/bulk/tag", data={"ids": [startup.id], "tag": "fair-2026",
                                                     "view": "", "csrf_token": token})
    assert tagged.status_code == 302, tagged.get_data(as_text=True)[-2000:]
    assert "fair-2026" in client.get("/").get_data(as_text=True)


def test_a_page_with_a_flashed_message_is_never_kept(bd, db):
    client, _user = bd
    startup = make_startup(db, "Bengaluru Robotics")
    token = CSRF_INPUT.search(get(client).get_data(as_text=True))[1]
    client.post("/startups/bulk/tag", data={"ids": [startup.id], "tag": "fair-2026", "view": "",
                                            "csrf_token": token})
    flashed = get(client)
    assert re.search(r'class="flash flash-\w+"', flashed.get_data(as_text=True))
    again = get(client)
    assert not re.search(r'class="flash flash-\w+"', again.get_data(as_text=True))
    assert not is_hit(again)  # the flashed page was not stored; this one is now
    assert is_hit(get(client))


def test_pages_expire(bd, db, app):
    app.extensions["page_cache"].seconds = 1
    client, _user = bd
    make_startup(db)
    get(client)
    assert is_hit(get(client))
    time.sleep(1.2)
    assert not is_hit(get(client))


@BOTH_STORES
def test_without_its_store_the_page_is_built(client_as, db, settings):
    """Redis down: every page is built (and nothing fails)."""
    from crm import create_app

    broken = create_app(Settings(**{**settings.model_dump(),
                                    "page_cache_url": "redis://127.0.0.1:1/0"}))
    make_startup(db, "Bengaluru Robotics")
    _client, user = client_as(Role.BD_MANAGER)
    client = broken.test_client()
    assert login(client, user.email).status_code == 302
    get(client, "/account/preferences")
    for _ in range(2):
        page = get(client)
        assert not is_hit(page)
        assert "Bengaluru Robotics" in page.get_data(as_text=True)


@pytest.mark.parametrize(("statement", "changes"), [
    ('UPDATE startups SET name = ? WHERE id = ?', True),
    ("INSERT INTO stage_events (enrollment_id) VALUES (1)", True),
    ('DELETE FROM "startup_tags" WHERE startup_id = 1', True),
    ("INSERT OR IGNORE INTO saved_views (name) VALUES ('x')", True),
    ("WITH moved AS (SELECT 1) UPDATE enrollments SET stage = 'x'", True),
    ("INSERT INTO audit_events (action) VALUES ('login')", False),
    ("UPDATE outbox_messages SET status = 'sent'", False),
    ("INSERT INTO reminders (dedupe_key) VALUES ('k') ON CONFLICT DO NOTHING", False),
    ("SELECT name FROM startups WHERE id = 1", False),
    ("WITH recent AS (SELECT 1) SELECT * FROM recent", False),
])
def test_which_statements_drop_the_pages(statement, changes):
    assert changes_shown_data(statement) is changes
