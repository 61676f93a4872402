"""A startup's contacts: add, edit (version-checked), remove after a confirmation step; phone
numbers to E.164, e-mails checked; before/after audit events; who may."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import Role
from crm.startups.models import Contact, Startup
from tests.conftest import fresh
from tests.factories import make_startup
from tests.helpers import audit_events, count, post, reloaded, text_of

PHONE_HINT = "Enter the number in international format, e.g. +49 211 1234567"
EMAIL_HINT = "Enter a valid email address, e.g. name@example.com"
NEW_CONTACT = {"name": "Jürgen Weiß", "email": "J.Weiss@Example.DE", "phone": "+49 211 1234567",
               "role": "CFO", "language": "de"}


def form_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def own(db, client_as):
    client, user = client_as(Role.BD_MANAGER)
    return client, user, make_startup(db, owner_id=user.id)


def the_contact(db: Session, startup: Startup) -> Contact:
    return fresh(db).scalar(select(Contact).where(Contact.startup_id == startup.id)
                            .execution_options(populate_existing=True))


def test_a_contact_is_added_with_its_phone_in_e164_and_an_audit_event(db, own):
    client, user, startup = own
    page = text_of(client.get(f"/startups/{startup.id}"))
    assert f'href="/startups/{startup.id}/contacts/new"' in page
    response = post(client, f"/startups/{startup.id}/contacts/new", NEW_CONTACT)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/startups/{startup.id}#contacts"
    contact = fresh(db).scalar(select(Contact).where(Contact.name == "Jürgen Weiß"))
    assert (contact.email, contact.phone, contact.role, contact.language, contact.version) == (
        "j.weiss@example.de", "+492111234567", "CFO", "de", 1)
    assert "juergen weiss" in reloaded(db, Startup, startup.id).search_text
    [event] = audit_events(db, "contact.added")
    assert (event.object_type, event.object_id, event.actor_user_id) == (
        "startup", startup.id, user.id)
    assert event.details["contact_id"] == contact.id
    assert event.details["changes"]["phone"] == [None, "+492111234567"]
    page = text_of(client.get(response.headers["Location"]))
    assert "Contact added." in page and "Jürgen Weiß" in page and "+492111234567" in page


def test_a_number_written_with_00_is_read_as_international(db, own):
    client, _user, startup = own
    post(client, f"/startups/{startup.id}/contacts/new",
         {**NEW_CONTACT, "phone": "0049 (211) 123-4567"})
    assert fresh(db).scalar(select(Contact.phone).where(Contact.name == "Jürgen Weiß")) == (
        "+492111234567")


@pytest.mark.parametrize(("changes", "message"), [
    ({"phone": "0211 1234567"}, PHONE_HINT),
    ({"phone": "+49 12"}, PHONE_HINT),
    ({"phone": "call me"}, PHONE_HINT),
    ({"email": "j.weiss@"}, EMAIL_HINT),
    ({"email": "two words@example.de"}, EMAIL_HINT),
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 201}, "Field cannot be longer than 200 characters."),
    ({"role": "x" * 121}, "Field cannot be longer than 120 characters."),
    ({"language": "fr"}, "Not a valid choice."),
])
def test_a_refused_contact_keeps_what_was_typed(db, own, changes, message):
    client, _user, startup = own
    response = post(client, f"/startups/{startup.id}/contacts/new",
                    {**NEW_CONTACT, "role": "Typed role", **changes})
    assert response.status_code == 422
    page = text_of(response)
    assert re.search(r'class="errors" id="[a-z_]+-errors">\s*<li>' + re.escape(message), page)
    for name in ("name", "email", "phone", "role"):
        expected = changes.get(name, "Typed role" if name == "role" else NEW_CONTACT[name])
        assert form_value(page, name) == expected, name
    assert count(db, Contact, Contact.startup_id == startup.id) == 1  # the factory's
    assert audit_events(db, "contact.added") == []


def contact_form(client, startup: Startup, contact: Contact) -> dict:
    page = client.get(f"/startups/{startup.id}/contacts/{contact.id}/edit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    data = {name: form_value(text, name) or "" for name in ("name", "email", "phone", "role",
                                                           "version")}
    data["language"] = re.search(r'<option selected value="([a-z]+)"', text).group(1)
    return data


def test_a_contact_is_edited_with_before_and_after_in_the_audit_event(db, own):
    client, _user, startup = own
    contact = the_contact(db, startup)
    data = contact_form(client, startup, contact)
    assert data == {"name": "Asha Rao", "email": "founder@robotics.example", "phone": "",
                    "role": "", "version": "1", "language": "en"}
    response = post(client, f"/startups/{startup.id}/contacts/{contact.id}/edit",
                    {**data, "email": "asha@robotics.example", "phone": "+91 80 1234 5678",
                     "role": "CEO"})
    assert response.status_code == 302
    saved = reloaded(db, Contact, contact.id)
    assert (saved.email, saved.phone, saved.role, saved.version) == (
        "asha@robotics.example", "+918012345678", "CEO", 2)
    search_text = reloaded(db, Startup, startup.id).search_text
    assert "asha@robotics.example" in search_text and "founder@" not in search_text
    [event] = audit_events(db, "contact.updated")
    assert event.details["changes"] == {
        "email": ["founder@robotics.example", "asha@robotics.example"],
        "phone": [None, "+918012345678"], "role": [None, "CEO"]}
    assert event.details["contact"] == "Asha Rao"


def test_an_edit_over_a_newer_save_is_refused_and_shows_both(db, own, client_as):
    client, _user, startup = own
    manager, _m = client_as(Role.MANAGER)
    contact = the_contact(db, startup)
    mine = contact_form(client, startup, contact)
    theirs = contact_form(manager, startup, contact)
    assert post(manager, f"/startups/{startup.id}/contacts/{contact.id}/edit",
                {**theirs, "role": "COO"}).status_code == 302
    response = post(client, f"/startups/{startup.id}/contacts/{contact.id}/edit",
                    {**mine, "role": "CTO", "phone": "+49 211 1234567"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this while you were editing" in page
    assert re.search(r"Role</th><td>COO</td><td>CTO</td>", page)
    assert form_value(page, "role") == "CTO" and form_value(page, "phone") == "+49 211 1234567"
    saved = reloaded(db, Contact, contact.id)
    assert (saved.role, saved.phone, saved.version) == ("COO", None, 2)
    assert len(audit_events(db, "contact.updated")) == 1
    assert form_value(page, "version") == "2"


def test_removing_asks_first_then_removes_with_an_audit_event(db, own):
    client, _user, startup = own
    contact_id = the_contact(db, startup).id
    page = text_of(client.get(f"/startups/{startup.id}"))
    remove_url = f"/startups/{startup.id}/contacts/{contact_id}/remove"
    assert f'href="{remove_url}"' in page
    confirm = client.get(remove_url)
    assert confirm.status_code == 200
    confirm_page = text_of(confirm)
    assert "Remove Asha Rao from Bengaluru Robotics?" in confirm_page
    assert f'action="{remove_url}"' in confirm_page
    assert count(db, Contact) == 1  # looking is not removing
    response = post(client, remove_url, {"version": form_value(confirm_page, "version")})
    assert response.status_code == 302
    assert count(db, Contact) == 0
    assert "founder@robotics.example" not in reloaded(db, Startup, startup.id).search_text
    [event] = audit_events(db, "contact.removed")
    assert event.details["changes"]["email"] == ["founder@robotics.example", None]
    assert event.details["contact_id"] == contact_id
    page = text_of(client.get(f"/startups/{startup.id}"))
    assert "Contact removed." in page and "No contacts yet." in page


def test_removing_a_contact_changed_meanwhile_is_refused(db, own, client_as):
    client, _user, startup = own
    manager, _m = client_as(Role.MANAGER)
    contact = the_contact(db, startup)
    remove_url = f"/startups/{startup.id}/contacts/{contact.id}/remove"
    version = form_value(text_of(client.get(remove_url)), "version")
    post(manager, f"/startups/{startup.id}/contacts/{contact.id}/edit",
         {**contact_form(manager, startup, contact), "name": "Asha R. Rao"})
    response = post(client, remove_url, {"version": version})
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this contact meanwhile" in page and "Asha R. Rao" in page
    assert count(db, Contact) == 1 and audit_events(db, "contact.removed") == []
    assert post(client, remove_url, {"version": form_value(page, "version")}).status_code == 302
    assert count(db, Contact) == 0


def test_a_contact_of_another_startup_is_not_found_under_this_one(db, own):
    client, user, startup = own
    other = make_startup(db, "Other One", owner_id=user.id, contact_email="x@other.example")
    foreign = the_contact(db, other)
    for url in (f"/startups/{startup.id}/contacts/{foreign.id}/edit",
                f"/startups/{startup.id}/contacts/{foreign.id}/remove"):
        assert client.get(url).status_code == 404
        assert post(client, url, {"name": "X", "version": "1"}).status_code == 404
    assert count(db, Contact) == 2


@pytest.mark.parametrize(("role", "whose", "allowed"), [
    (Role.VIEWER, "unassigned", False),
    (Role.BD_MANAGER, "own", True),
    (Role.BD_MANAGER, "unassigned", True),
    (Role.BD_MANAGER, "other", False),
    (Role.MANAGER, "other", True),
    (Role.ADMIN, "other", True),
])
def test_who_may_change_contacts(db, client_as, make_user, role, whose, allowed):
    client, user = client_as(role)
    owner_id = {"own": user.id, "unassigned": None,
                "other": make_user(Role.BD_MANAGER).id}[whose]
    startup = make_startup(db, owner_id=owner_id)
    contact = the_contact(db, startup)
    base = f"/startups/{startup.id}/contacts"
    get_status = 200 if allowed else 403
    for url in (f"{base}/new", f"{base}/{contact.id}/edit", f"{base}/{contact.id}/remove"):
        assert client.get(url).status_code == get_status, url
    page = text_of(client.get(f"/startups/{startup.id}"))
    assert (f'href="{base}/{contact.id}/edit"' in page) is allowed
    post_status = 302 if allowed else 403
    assert post(client, f"{base}/new", NEW_CONTACT).status_code == post_status
    assert post(client, f"{base}/{contact.id}/edit",
                {**NEW_CONTACT, "name": "Renamed", "version": "1"}).status_code == post_status
    assert reloaded(db, Contact, contact.id).name == ("Renamed" if allowed else "Asha Rao")
    assert post(client, f"{base}/{contact.id}/remove",
                {"version": "2"}).status_code == post_status
    remaining = list(fresh(db).scalars(select(Contact.name)))
    assert remaining == (["Jürgen Weiß"] if allowed else ["Asha Rao"])
    assert len(audit_events(db, "contact.removed")) == (1 if allowed else 0)


def test_posts_without_csrf_are_refused(db, own):
    client, _user, startup = own
    contact = the_contact(db, startup)
    base = f"/startups/{startup.id}/contacts"
    assert client.post(f"{base}/new", data=NEW_CONTACT).status_code == 400
    assert client.post(f"{base}/{contact.id}/remove", data={"version": "1"}).status_code == 400
    assert count(db, Contact) == 1
