"""Saved views of the startups list: save the current filters under a name, list them as links
for their owner only, "owner=me" meaning whoever opens it, duplicate names refused, delete."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups.models import SavedView
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup


def page_text(client, url: str = "/") -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def save(client, name: str, view: str):
    return client.post("/startups/views", data={"name": name, "view": view,
                                                "csrf_token": csrf_token(client, "/")})


def saved_links(page: str) -> dict[str, str]:
    section = page.split('id="saved-views-title"')[1].split("</section>")[0]
    return {name: href for href, name in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>',
                                                    section)}


def names_on(page: str) -> list[str]:
    return re.findall(r'<td><a href="/startups/\d+">(.*?)</a>', page)


@pytest.fixture
def two_bd_managers(client_as, db):
    first, second = client_as(Role.BD_MANAGER), client_as(Role.BD_MANAGER)
    make_startup(db, "First's Korean Lead", country="KR", owner_id=first[1].id,
                 contact_email=None)
    make_startup(db, "Second's Korean Lead", country="KR", owner_id=second[1].id,
                 contact_email=None)
    make_startup(db, "Indian Lead", country="IN", owner_id=first[1].id, contact_email=None)
    return first, second


def test_a_saved_view_is_a_link_that_replays_the_filters_for_whoever_opens_it(
        db, two_bd_managers):
    (first, first_user), (second, _second_user) = two_bd_managers

    response = save(first, "My Korean leads", "country=KR&owner=me&sort=updated&dir=asc&junk=1")

    assert response.status_code == 302
    assert response.headers["Location"] == "/?country=KR&owner=me&sort=updated&dir=asc"
    saved = fresh(db).scalar(select(SavedView))
    assert (saved.user_id, saved.name) == (first_user.id, "My Korean leads")
    assert saved.query == "country=KR&owner=me&sort=updated&dir=asc"  # "me", not an id
    page = page_text(first, response.headers["Location"])
    assert "View “My Korean leads” saved." in page
    links = saved_links(page)
    assert links == {"My Korean leads": "/?country=KR&owner=me&sort=updated&dir=asc"}
    assert 'aria-current="page">My Korean leads</a>' in page  # the view being looked at
    assert names_on(page_text(first, links["My Korean leads"])) == ["First's Korean Lead"]
    # The same link opened by another BD manager shows their own Korean leads.
    assert names_on(page_text(second, links["My Korean leads"])) == ["Second's Korean Lead"]
    event = fresh(db).scalar(select(AuditEvent).where(AuditEvent.action == "saved_view.created"))
    assert event.actor_user_id == first_user.id and event.details["name"] == "My Korean leads"


def test_saved_views_are_listed_for_their_owner_only(db, two_bd_managers):
    (first, _), (second, _) = two_bd_managers
    save(first, "Only mine", "country=IN")

    assert "Only mine" in saved_links(page_text(first))
    second_page = page_text(second)
    assert saved_links(second_page) == {}
    assert "Only mine" not in second_page and "No saved views yet." in second_page


def test_a_duplicate_or_empty_name_is_refused_next_to_the_field_keeping_what_was_typed(
        db, two_bd_managers):
    (first, _), (second, _) = two_bd_managers
    save(first, "Korea", "country=KR")

    response = save(first, "  Korea ", "country=IN")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "You already have a view with this name." in page
    assert 'value="  Korea "' in page  # what was typed stays
    assert names_on(page) == ["Indian Lead"]  # the list behind the form is the posted view
    empty = save(first, "", "country=IN")
    assert empty.status_code == 422 and "This field is required." in empty.get_data(as_text=True)
    too_long = save(first, "x" * 121, "")
    assert too_long.status_code == 422
    assert len(fresh(db).scalars(select(SavedView)).all()) == 1
    # Another user may use the same name.
    assert save(second, "Korea", "country=KR").status_code == 302


def test_deleting_asks_first_and_only_the_owner_can_delete(db, two_bd_managers):
    (first, first_user), (second, _) = two_bd_managers
    save(first, "Old view", "country=IN")
    saved_id = fresh(db).scalar(select(SavedView.id))
    page = page_text(first, "/?country=IN")
    assert 'data-confirm="Delete the saved view “Old view”?"' in page

    other = second.post(f"/startups/views/{saved_id}/delete",
                        data={"csrf_token": csrf_token(second, "/")})
    assert other.status_code == 404
    no_token = first.post(f"/startups/views/{saved_id}/delete", data={"view": "country=IN"})
    assert no_token.status_code == 400 and fresh(db).get(SavedView, saved_id) is not None

    response = first.post(f"/startups/views/{saved_id}/delete",
                          data={"view": "country=IN", "csrf_token": csrf_token(first, "/")})
    assert response.status_code == 302 and response.headers["Location"] == "/?country=IN"
    assert fresh(db).get(SavedView, saved_id) is None
    assert "View “Old view” deleted." in page_text(first, "/?country=IN")
    assert fresh(db).scalar(select(AuditEvent).where(
        AuditEvent.action == "saved_view.deleted")).actor_user_id == first_user.id
    assert first.post("/startups/views/999999/delete",
                      data={"csrf_token": csrf_token(first, "/")}).status_code == 404


def test_viewers_may_save_views_too(client_as, db):
    client, user = client_as(Role.VIEWER)
    assert save(client, "Everything landed", "status=landed").status_code == 302
    assert "Everything landed" in saved_links(page_text(client))


def test_a_view_too_long_to_store_is_refused_next_to_the_name(db, client_as):
    client, _ = client_as(Role.MANAGER)
    view = "&".join(f"{name}={'ü' * 200}" for name in ("q", "event", "sector", "tag"))

    response = save(client, "Huge", view)

    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "This view has too many filters to be saved." in page and 'value="Huge"' in page
    assert fresh(db).scalars(select(SavedView)).all() == []
