"""A startup's change history: managers and admins see who changed what (before → after) on the
startup's page and on its paged history page; nobody else does; constant query counts."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups import profile
from crm.startups.models import Startup
from crm.users.models import User
from tests.conftest import csrf_token, fresh
from tests.factories import make_programme, make_startup


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/tasks/")})


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def history_panel(page: str) -> str | None:
    match = re.search(r'<section class="card" id="history".*?</section>', page, re.S)
    return match.group(0) if match else None


def entries(page: str) -> list[str]:
    """Each history entry's text, whitespace collapsed."""
    return [" ".join(re.sub(r"<[^>]+>", "", item).split())
            for item in re.findall(r'<li class="timeline-entry">(.*?)</li>\s*'
                                   r'(?=<li class="timeline|</ol>)', page, re.S)]


def edit(db: Session, startup_id: int, actor_id: int, **changes) -> None:
    """A profile change through the real service, committed (as a request would)."""
    db = fresh(db)
    startup = db.get(Startup, startup_id, populate_existing=True)
    profile.update_profile(db, startup, changes, startup.version, db.get(User, actor_id))
    db.commit()


def test_managers_see_who_changed_what_on_the_startup_page(db, client_as, make_user):
    bd_client, bd_user = client_as(Role.BD_MANAGER)
    owner = make_user(Role.BD_MANAGER, name="Bea Owner")
    manager, _manager_user = client_as(Role.MANAGER)
    startup = make_startup(db, "Old Name", owner_id=bd_user.id, country="IN")
    form = {"name": "New Name", "country": "KR", "city": "Seoul", "source": "event",
            "sectors": "Mobility", "owner": bd_user.id, "version": "1"}
    assert post(bd_client, f"/startups/{startup.id}/edit", form).status_code == 302
    edit(db, startup.id, _manager_user.id, owner_id=owner.id)
    panel = history_panel(page_of(manager, f"/startups/{startup.id}"))
    assert panel is not None and "Change history" in panel
    newest, older = entries(panel)
    assert newest.startswith("Profile changed")
    assert _manager_user.name in newest and f"Owner: {bd_user.name} → Bea Owner" in newest
    assert bd_user.name in older
    for line in ("Name: Old Name → New Name", "Country: India → South Korea",
                 "City: — → Seoul", "Source: Other → Event", "Sectors: — → Mobility"):
        assert line in older, line
    assert "Full change history" not in panel  # only two entries


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER])
def test_others_do_not_see_the_history_nor_open_it(db, client_as, role):
    client, user = client_as(role)
    startup = make_startup(db, owner_id=user.id if role == Role.BD_MANAGER else None)
    edit(db, startup.id, make_admin_id(db), city="Pune")
    page = page_of(client, f"/startups/{startup.id}")
    assert history_panel(page) is None and "Change history" not in page
    assert "City: — → Pune" not in page
    assert client.get(f"/startups/{startup.id}/history").status_code == 403


def make_admin_id(db: Session) -> int:
    from crm.users.services import create_user

    admin = create_user(fresh(db), email="history-admin@desk.example", name="Ada Admin",
                        role=Role.ADMIN, password="correct horse battery staple")
    db.commit()
    return admin.id


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_open_the_history_page(db, client_as, role):
    client, _user = client_as(role)
    startup = make_startup(db)
    assert client.get(f"/startups/{startup.id}/history").status_code == 200
    assert client.get("/startups/999999/history").status_code == 404


def test_creation_contacts_and_status_changes_are_in_the_history(db, client_as):
    client, user = client_as(Role.MANAGER)
    response = post(client, "/startups/new", {
        "name": "Hanbit Mobility", "country": "KR", "source": "delegation", "owner": user.id,
        "tags": "ev", "contact_name": "Ji-woo Park", "contact_phone": "+49 211 1234567",
        "contact_language": "en"})
    assert response.status_code == 302
    startup_id = int(response.headers["Location"].rsplit("/", 1)[1])
    programme = make_programme(db)
    assert post(client, f"/startups/{startup_id}/enrollments",
                {"programme": programme.id}).status_code == 302
    found = entries(page_of(client, f"/startups/{startup_id}/history"))
    status, added, created = found
    assert status.startswith("Status changed") and "Status: Lead → Active" in status
    assert added.startswith("Contact added: Ji-woo Park")
    assert "Phone: — → +492111234567" in added and "Language: — → English" in added
    assert created.startswith("Startup created") and user.name in created
    for line in ("Name: — → Hanbit Mobility", "Country: — → South Korea",
                 "Source: — → Delegation", f"Owner: — → {user.name}", "Tags: — → ev"):
        assert line in created, line


def test_the_history_page_pages_back_by_id_newest_first(db, client_as):
    client, user = client_as(Role.MANAGER)
    startup = make_startup(db)
    for year in range(1980, 2025):  # 45 changes
        edit(db, startup.id, user.id, founded_year=year)
    seen: list[str] = []
    url = f"/startups/{startup.id}/history"
    pages = 0
    while url:
        page = page_of(client, url)
        seen += [re.search(r"→ (\d{4})", entry).group(1) for entry in entries(page)]
        older = re.search(r'href="([^"]*before=\d+[^"]*)"', page)
        url = html.unescape(older.group(1)) if older else None
        pages += 1
        if pages > 1:
            assert "Back to the newest" in page
    assert pages == 3
    assert seen == [str(year) for year in range(2024, 1979, -1)]
    # the startup's page shows the newest few and links to the rest
    panel = history_panel(page_of(client, f"/startups/{startup.id}"))
    assert len(entries(panel)) == 10 and "Full change history" in panel
    # a foreign or garbage cursor shows nothing it should not
    other = make_startup(db, "Other", contact_email=None)
    edit(db, other.id, user.id, city="Elsewhere")
    assert "Elsewhere" not in page_of(client, f"/startups/{startup.id}/history?before=999999")
    assert entries(page_of(client, f"/startups/{startup.id}/history?before=abc"))


def _history_of(db: Session, startup: Startup, actor_id: int, number: int) -> None:
    db = fresh(db)
    actor = db.get(User, actor_id)
    target = db.get(Startup, startup.id, populate_existing=True)
    for i in range(number):
        profile.add_contact(db, target, {"name": f"Person {i:02d}",
                                         "email": f"p{i}@{startup.id}.example",
                                         "phone": "+492111234567", "language": "en"}, actor)
        profile.update_profile(db, target, {"team_size": i + 1}, target.version, actor)
    db.commit()


def test_the_page_and_the_history_run_the_same_queries_for_1_and_30_changes(
        db, client_as, count_queries):
    client, user = client_as(Role.MANAGER)
    few = make_startup(db, "Few GmbH", contact_email=None, owner_id=user.id)
    many = make_startup(db, "Many GmbH", contact_email=None, owner_id=user.id)
    _history_of(db, few, user.id, 1)
    _history_of(db, many, user.id, 30)
    assert len(fresh(db).scalars(select(AuditEvent.id).where(
        AuditEvent.object_type == "startup", AuditEvent.object_id == many.id)).all()) == 60
    for url in ("/startups/{}", "/startups/{}/history"):
        page_of(client, url.format(few.id))  # warm up
        with count_queries() as for_few:
            few_page = page_of(client, url.format(few.id))
        with count_queries() as for_many:
            many_page = page_of(client, url.format(many.id))
        assert "Person 00" in few_page and "Person 29" in many_page
        assert len(for_few) == len(for_many) <= 12, "\n".join(for_many)
