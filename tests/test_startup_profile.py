"""Creating a startup (duplicates warned about, "create anyway"), editing its profile with a
version check, refused input per field, and who may do it."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups.models import Contact, Startup, StartupSector, StartupTag
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup
from tests.helpers import audit_events, count, post, reloaded, text_of

NEW_STARTUP = {
    "name": "Seoul Sensors", "website": "www.SeoulSensors.example/about", "country": "KR",
    "city": "Seoul", "founded_year": "2021", "team_size": "12", "funding_stage": "seed",
    "description": "Lidar for small robots.", "sectors": "Industry 4.0, Mobility",
    "tags": "Lidar, sensors, lidar", "source": "event", "source_detail": "Hannover Messe",
    "owner": "", "contact_name": "Min-jun Kim", "contact_email": "MinJun@SeoulSensors.example",
    "contact_phone": "+82 2 312 3456", "contact_role": "CEO", "contact_language": "de",
}


def labels_of(db: Session, startup_id: int) -> tuple[list[str], list[str]]:
    db = fresh(db)
    return (sorted(db.scalars(select(StartupSector.sector)
                              .where(StartupSector.startup_id == startup_id))),
            sorted(db.scalars(select(StartupTag.tag).where(StartupTag.startup_id == startup_id))))


def form_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def manager(client_as):
    return client_as(Role.MANAGER)


# Creating -------------------------------------------------------------------------------------


def test_the_new_form_offers_countries_by_name_and_the_bd_manager_as_owner(bd):
    client, user = bd
    response = client.get("/startups/new")
    assert response.status_code == 200
    page = text_of(response)
    assert '<option value="KR">South Korea</option>' in page
    assert re.search(rf'<option selected value="{user.id}">{re.escape(user.name)}</option>', page)
    client.post("/locale", data={"locale": "de", "csrf_token": csrf_token(client, "/tasks/")})
    assert '<option value="KR">Südkorea</option>' in text_of(client.get("/startups/new"))


def test_a_startup_is_created_with_its_first_contact_and_an_audit_event(db, bd):
    client, user = bd
    response = post(client, "/startups/new", {**NEW_STARTUP, "owner": user.id})
    assert response.status_code == 302, text_of(response)[-3000:]
    startup = fresh(db).scalar(select(Startup).where(Startup.name == "Seoul Sensors"))
    assert response.headers["Location"] == f"/startups/{startup.id}"
    assert startup.website == "https://www.SeoulSensors.example/about"
    assert startup.domain == "seoulsensors.example"
    assert (startup.country, startup.city, startup.founded_year, startup.team_size) == (
        "KR", "Seoul", 2021, 12)
    assert startup.funding_stage == "seed" and startup.source == "event"
    assert startup.source_detail == "Hannover Messe" and startup.owner_id == user.id
    assert startup.owner_assigned_at is not None and startup.version == 1
    assert "seoul sensors" in startup.search_text and "min jun kim" in startup.search_text
    assert startup.name_key
    assert labels_of(db, startup.id) == (["Industry 4.0", "Mobility"], ["lidar", "sensors"])
    contact = db.scalar(select(Contact).where(Contact.startup_id == startup.id))
    assert (contact.name, contact.email, contact.phone, contact.role, contact.language) == (
        "Min-jun Kim", "minjun@seoulsensors.example", "+8223123456", "CEO", "de")
    [created] = audit_events(db, "startup.created", startup.id)
    assert created.actor_user_id == user.id
    assert created.details["values"]["name"] == "Seoul Sensors"
    assert created.details["values"]["sectors"] == ["Industry 4.0", "Mobility"]
    assert created.details["owner_names"] == [None, user.name]
    [added] = audit_events(db, "contact.added", startup.id)
    assert added.details["changes"]["phone"] == [None, "+8223123456"]
    page = text_of(client.get(response.headers["Location"]))
    assert "Startup created." in page and "Min-jun Kim" in page and "Hannover Messe" in page


def test_a_manager_creates_an_unassigned_startup_without_a_contact(db, manager):
    client, _user = manager
    data = {key: value for key, value in NEW_STARTUP.items() if not key.startswith("contact_")}
    response = post(client, "/startups/new", {**data, "website": ""})
    assert response.status_code == 302
    startup = fresh(db).scalar(select(Startup))
    assert startup.owner_id is None and startup.owner_assigned_at is None
    assert startup.domain is None and startup.website is None
    assert count(db, Contact) == 0 and audit_events(db, "contact.added") == []


def test_a_probable_duplicate_is_shown_and_nothing_is_created_until_confirmed(db, bd):
    client, _user = bd
    existing = make_startup(db, "Seoul Sensor Systems", country="KR",
                            website="https://seoulsensors.example", domain="seoulsensors.example")
    response = post(client, "/startups/new", NEW_STARTUP)
    assert response.status_code == 200
    page = text_of(response)
    assert "Possible duplicates" in page
    assert f'href="/startups/{existing.id}">Seoul Sensor Systems</a>' in page
    assert "same website" in page
    assert "Create anyway" in page and 'name="create_anyway"' in page
    # everything typed is still there
    assert form_value(page, "name") == "Seoul Sensors"
    assert form_value(page, "contact_phone") == "+82 2 312 3456"
    assert "Lidar for small robots." in page
    assert count(db, Startup) == 1 and audit_events(db, "startup.created") == []
    # submitting again without ticking the box warns again
    assert "Possible duplicates" in text_of(post(client, "/startups/new", NEW_STARTUP))
    assert count(db, Startup) == 1
    response = post(client, "/startups/new", {**NEW_STARTUP, "create_anyway": "y"})
    assert response.status_code == 302
    assert count(db, Startup) == 2
    [created] = audit_events(db, "startup.created")
    assert created.details["duplicates_confirmed"] is True


def test_a_contact_email_already_known_is_a_probable_duplicate(db, bd):
    client, _user = bd
    make_startup(db, "Completely Different", contact_email="minjun@seoulsensors.example")
    page = text_of(post(client, "/startups/new", {**NEW_STARTUP, "website": ""}))
    assert "Possible duplicates" in page and "Completely Different" in page
    assert "same contact email" in page


def test_a_similar_name_is_a_probable_duplicate(db, bd):
    client, _user = bd
    make_startup(db, "Seoul Sensors Inc.", country="KR", contact_email=None)
    page = text_of(post(client, "/startups/new", {**NEW_STARTUP, "website": ""}))
    assert "Possible duplicates" in page and "Seoul Sensors Inc." in page


TYPED_CITY = "Typed City"


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 201}, "Field cannot be longer than 200 characters."),
    ({"website": "not a website"}, "Enter a web address, e.g. https://example.com"),
    ({"website": "ftp://files.example"}, "Enter a web address, e.g. https://example.com"),
    ({"website": "localhost"}, "Enter a web address, e.g. https://example.com"),
    ({"country": ""}, "Choose a country."),
    ({"country": "XX"}, "Not a valid choice."),
    ({"founded_year": "soon"}, "Not a valid integer value."),
    ({"founded_year": "1700"}, "Enter a year between 1800 and"),
    ({"founded_year": "2999"}, "Enter a year between 1800 and"),
    ({"team_size": "0"}, "Number must be between 1 and 1000000."),
    ({"team_size": "many"}, "Not a valid integer value."),
    ({"funding_stage": "unicorn"}, "Not a valid choice."),
    ({"description": "x" * 10_001}, "Field cannot be longer than 10000 characters."),
    ({"sectors": "Fine, " + "x" * 65}, "Each entry may have at most 64 characters."),
    ({"tags": ", ".join(f"t{i}" for i in range(31))}, "At most 30 entries."),
    ({"source": "television"}, "Not a valid choice."),
    ({"source_detail": "x" * 201}, "Field cannot be longer than 200 characters."),
    ({"owner": "999999"}, "Not a valid choice."),
    ({"owner": "nobody"}, "Invalid Choice: could not coerce."),
    ({"contact_email": "not-an-email"}, "Enter a valid email address, e.g. name@example.com"),
    ({"contact_phone": "0211 1234567"},
     "Enter the number in international format, e.g. +49 211 1234567"),
    ({"contact_phone": "+49 1"}, "Enter the number in international format, e.g. +49 211 1234567"),
    ({"contact_name": "", "contact_email": "a@seoulsensors.example"},
     "Enter the contact's name (or leave the contact empty)."),
    ({"contact_language": "fr"}, "Not a valid choice."),
])
def test_bad_input_is_shown_next_to_the_field_and_keeps_what_was_typed(db, bd, changes, message):
    client, _user = bd
    response = post(client, "/startups/new", {**NEW_STARTUP, "city": TYPED_CITY, **changes})
    assert response.status_code == 422
    page = text_of(response)
    assert message in page
    assert re.search(r'class="errors" id="[a-z_]+-errors">\s*<li>' + re.escape(message), page)
    assert form_value(page, "city") == TYPED_CITY
    assert changes.get("description", "Lidar for small robots.") in page
    for name, value in changes.items():
        if name not in ("country", "funding_stage", "source", "owner", "contact_language",
                        "description"):
            assert form_value(page, name) == value, name
    assert count(db, Startup) == 0 and count(db, Contact) == 0
    assert count(db, AuditEvent, AuditEvent.object_type == "startup") == 0


# Editing --------------------------------------------------------------------------------------


def edit_form(client, startup: Startup) -> dict:
    """The edit form's fields as the page shows them (what a browser would send back)."""
    response = client.get(f"/startups/{startup.id}/edit")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    data = {}
    for name in ("name", "website", "city", "founded_year", "team_size", "sectors", "tags",
                 "source_detail", "version"):
        data[name] = form_value(page, name) or ""
    for name in ("country", "funding_stage", "source", "owner"):
        select_html = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S).group(0)
        selected = re.search(r'<option selected value="([^"]*)"', select_html)
        data[name] = html.unescape(selected.group(1)) if selected else ""
    description = re.search(r'<textarea[^>]*name="description"[^>]*>\r?\n?(.*?)</textarea>',
                            page, re.S)
    data["description"] = html.unescape(description.group(1))
    return data


def test_the_edit_form_shows_the_stored_profile(db, bd):
    client, user = bd
    startup = make_startup(db, "Old Name", owner_id=user.id, website="https://old.example",
                           domain="old.example", city="Pune", founded_year=2019,
                           description="Does things.", source_detail="BTS")
    db.add_all([StartupSector(startup_id=startup.id, sector="Green Tech"),
                StartupTag(startup_id=startup.id, tag="iot")])
    db.commit()
    form = edit_form(client, startup)
    assert form == {"name": "Old Name", "website": "https://old.example", "city": "Pune",
                    "founded_year": "2019", "team_size": "", "sectors": "Green Tech",
                    "tags": "iot", "source_detail": "BTS", "version": "1", "country": "IN",
                    "funding_stage": "", "source": "other", "owner": str(user.id),
                    "description": "Does things."}


def test_an_edit_saves_changed_fields_with_one_audit_event_of_before_and_after(db, manager,
                                                                              make_user):
    client, user = manager
    owner = make_user(Role.BD_MANAGER, name="Bea Owner")
    startup = make_startup(db, "Old Name", website="https://old.example", domain="old.example")
    data = edit_form(client, startup)
    response = post(client, f"/startups/{startup.id}/edit",
                    {**data, "name": "Müller Robotics", "website": "new.example",
                     "country": "DE", "sectors": "Robotics, Green Tech", "tags": "b2b",
                     "owner": owner.id, "team_size": "7"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/startups/{startup.id}"
    saved = reloaded(db, Startup, startup.id)
    assert (saved.name, saved.website, saved.domain, saved.country, saved.team_size) == (
        "Müller Robotics", "https://new.example", "new.example", "DE", 7)
    assert saved.owner_id == owner.id and saved.owner_assigned_at is not None
    assert saved.version == 2
    assert "mueller robotics" in saved.search_text and "new.example" in saved.search_text
    assert labels_of(db, startup.id) == (["Green Tech", "Robotics"], ["b2b"])
    [event] = audit_events(db, "startup.updated", startup.id)
    assert event.actor_user_id == user.id
    assert event.details["changes"] == {
        "name": ["Old Name", "Müller Robotics"],
        "website": ["https://old.example", "https://new.example"],
        "domain": ["old.example", "new.example"],
        "country": ["IN", "DE"],
        "team_size": [None, 7],
        "sectors": [[], ["Green Tech", "Robotics"]],
        "tags": [[], ["b2b"]],
        "owner_id": [None, owner.id],
    }
    assert event.details["owner_names"] == [None, "Bea Owner"]


def test_saving_without_changes_writes_nothing(db, bd):
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    response = post(client, f"/startups/{startup.id}/edit", edit_form(client, startup))
    assert response.status_code == 302
    assert "Nothing changed." in text_of(client.get(response.headers["Location"]))
    assert reloaded(db, Startup, startup.id).version == 1
    assert audit_events(db, "startup.updated") == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": " "}, "This field is required."),
    ({"website": "nope nope"}, "Enter a web address, e.g. https://example.com"),
    ({"team_size": "-3"}, "Number must be between 1 and 1000000."),
    ({"country": "ZZ"}, "Not a valid choice."),
])
def test_a_refused_edit_keeps_what_was_typed_and_saves_nothing(db, bd, changes, message):
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    data = {**edit_form(client, startup), "city": TYPED_CITY, **changes}
    response = post(client, f"/startups/{startup.id}/edit", data)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page and form_value(page, "city") == TYPED_CITY
    saved = reloaded(db, Startup, startup.id)
    assert saved.city is None and saved.version == 1 and saved.name == "Bengaluru Robotics"
    assert audit_events(db, "startup.updated") == []


def test_an_edit_over_someone_elses_newer_save_is_refused_with_both_values(db, bd, manager):
    client, user = bd
    other, _manager = manager
    startup = make_startup(db, owner_id=user.id, city="Pune")
    mine = edit_form(client, startup)
    theirs = edit_form(other, startup)
    assert post(other, f"/startups/{startup.id}/edit",
                {**theirs, "city": "Mysuru", "team_size": "40"}).status_code == 302
    response = post(client, f"/startups/{startup.id}/edit",
                    {**mine, "city": "Bengaluru", "description": "My words"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this while you were editing" in page
    conflict = re.search(r"<table.*?</table>", page, re.S).group(0)
    assert re.search(r"City</th><td>Mysuru</td><td>Bengaluru</td>", conflict)
    assert re.search(r"Team size</th><td>40</td><td>—</td>", conflict)
    assert form_value(page, "city") == "Bengaluru" and "My words" in page
    saved = reloaded(db, Startup, startup.id)
    assert (saved.city, saved.team_size, saved.description, saved.version) == (
        "Mysuru", 40, "", 2)
    assert len(audit_events(db, "startup.updated")) == 1
    # the form now carries their version: saving again replaces their values on purpose
    assert form_value(page, "version") == "2"
    again = {**mine, "city": "Bengaluru", "description": "My words", "version": "2"}
    assert post(client, f"/startups/{startup.id}/edit", again).status_code == 302
    saved = reloaded(db, Startup, startup.id)
    assert (saved.city, saved.description, saved.version) == ("Bengaluru", "My words", 3)


def test_a_missing_or_forged_version_counts_as_stale(db, bd):
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    data = edit_form(client, startup)
    for version in ("", "abc", "0", "7"):
        response = post(client, f"/startups/{startup.id}/edit",
                        {**data, "city": "X", "version": version})
        assert response.status_code == 409, version
    assert reloaded(db, Startup, startup.id).city is None


def test_a_bd_manager_takes_an_unassigned_startup_but_cannot_give_it_to_someone_else(
        db, bd, make_user):
    client, user = bd
    colleague = make_user(Role.BD_MANAGER)
    startup = make_startup(db)
    page = text_of(client.get(f"/startups/{startup.id}/edit"))
    assert f'<option value="{colleague.id}"' not in page
    data = edit_form(client, startup)
    refused = post(client, f"/startups/{startup.id}/edit", {**data, "owner": colleague.id})
    assert refused.status_code == 422 and "Not a valid choice." in text_of(refused)
    assert post(client, f"/startups/{startup.id}/edit",
                {**data, "owner": user.id}).status_code == 302
    saved = reloaded(db, Startup, startup.id)
    assert saved.owner_id == user.id and saved.owner_assigned_at is not None
    # now it is theirs: unassigning is no longer offered
    assert post(client, f"/startups/{startup.id}/edit",
                {**edit_form(client, startup), "owner": ""}).status_code == 422
    assert reloaded(db, Startup, startup.id).owner_id == user.id


def test_the_page_links_to_the_edit_form_only_for_those_who_may_edit(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER)
    startup = make_startup(db, owner_id=owner.id)
    for role, shown in ((Role.VIEWER, False), (Role.BD_MANAGER, False), (Role.MANAGER, True)):
        client, _user = client_as(role)
        page = text_of(client.get(f"/startups/{startup.id}"))
        assert (f'href="/startups/{startup.id}/edit"' in page) is shown, role


# Who may --------------------------------------------------------------------------------------


def _matrix_cases():
    """(role, whose startup, expected GET status, expected POST outcome) for the edit routes."""
    return [
        (Role.VIEWER, "unassigned", 403, 403),
        (Role.VIEWER, "other", 403, 403),
        (Role.BD_MANAGER, "own", 200, 302),
        (Role.BD_MANAGER, "unassigned", 200, 302),
        (Role.BD_MANAGER, "other", 403, 403),
        (Role.MANAGER, "other", 200, 302),
        (Role.ADMIN, "other", 200, 302),
    ]


@pytest.mark.parametrize(("role", "whose", "get_status", "post_status"), _matrix_cases())
def test_who_may_edit_a_profile(db, client_as, make_user, role, whose, get_status, post_status):
    client, user = client_as(role)
    owner_id = {"own": user.id, "unassigned": None,
                "other": make_user(Role.BD_MANAGER).id}[whose]
    startup = make_startup(db, owner_id=owner_id)
    assert client.get(f"/startups/{startup.id}/edit").status_code == get_status
    data = {"name": "Renamed", "country": "IN", "source": "other",
            "owner": "" if owner_id is None else owner_id, "version": "1"}
    assert post(client, f"/startups/{startup.id}/edit", data).status_code == post_status
    renamed = reloaded(db, Startup, startup.id).name == "Renamed"
    assert renamed is (post_status == 302)
    assert len(audit_events(db, "startup.updated")) == (1 if renamed else 0)


@pytest.mark.parametrize(("role", "status"), [
    (Role.VIEWER, 403), (Role.BD_MANAGER, 200), (Role.MANAGER, 200), (Role.ADMIN, 200)])
def test_who_may_create_a_startup(db, client_as, role, status):
    client, _user = client_as(role)
    assert client.get("/startups/new").status_code == status
    response = post(client, "/startups/new", {**NEW_STARTUP, "owner": ""})
    assert response.status_code == (302 if status == 200 else 403)
    assert count(db, Startup) == (1 if status == 200 else 0)


def test_anonymous_visitors_are_sent_to_the_login(db, client):
    startup = make_startup(db)
    for url in ("/startups/new", f"/startups/{startup.id}/edit"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unknown_startup_is_404(db, manager):
    client, _user = manager
    assert client.get("/startups/999999/edit").status_code == 404
    assert post(client, "/startups/999999/edit", {"name": "x"}).status_code == 404


def test_posts_without_csrf_are_refused(db, bd):
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    assert client.post("/startups/new", data=NEW_STARTUP).status_code == 400
    assert client.post(f"/startups/{startup.id}/edit",
                       data={"name": "X", "version": "1"}).status_code == 400
    assert count(db, Startup) == 1 and reloaded(db, Startup, startup.id).name != "X"
