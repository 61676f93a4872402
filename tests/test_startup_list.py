"""The startups list: search (accents, romanisation, contacts), every filter, sortable columns with
keyset pages, the capped count, the filter choices, the empty state, constant query counts."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import insert, select
from sqlmodel import Session

from crm.core.clock import set_clock
from crm.core.enums import EnrollmentStatus, LeadSource, Role, StartupStatus
from crm.db import get_session
from crm.startups import listing
from crm.startups.models import Contact, Startup, StartupSector, StartupTag
from crm.startups.search import refresh_search_fields
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import Enrollment
from tests.factories import make_programme, make_startup

ROW_LINK = re.compile(r'<td><a href="/startups/(\d+)">(.*?)</a>')


def page_text(client, url: str = "/", **params) -> str:
    response = client.get(url, query_string=params or None)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def names(client, url: str = "/", **params) -> list[str]:
    return [name for _id, name in ROW_LINK.findall(page_text(client, url, **params))]


def ids(page: str) -> list[int]:
    return [int(found) for found, _name in ROW_LINK.findall(page)]


def next_link(page: str) -> str | None:
    match = re.search(r'<a href="([^"]+)">Next page</a>', page)
    return html.unescape(match.group(1)) if match else None


def paged_ids(client, url: str, at_most: int) -> list[list[int]]:
    """The startup ids of each page, following "Next page" from `url` to the end."""
    pages: list[list[int]] = []
    while url:
        page = page_text(client, url)
        pages.append(ids(page))
        url = next_link(page)
        assert len(pages) <= at_most, "pagination does not end"
    return pages


@pytest.fixture
def viewer(client_as):
    return client_as(Role.VIEWER)


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


# --- search --------------------------------------------------------------------------------------


def test_search_finds_accents_german_spelling_romanisation_and_contacts(db, viewer):
    client, _ = viewer
    make_startup(db, "Müller GmbH", country="DE", contact_email="anna@mueller.example")
    make_startup(db, "두산로보틱스", country="KR", contact_email="jiho@doosan.example")
    make_startup(db, "Plain Energy", country="DE", contact_email=None, domain="plain.example")
    contact_only = make_startup(db, "Quiet Labs", country="IN", contact_email=None)
    db.add(Contact(startup_id=contact_only.id, name="Priya Raghavan", email="priya@quiet.example"))
    refresh_search_fields(db, contact_only)
    db.commit()

    for term in ("Muller", "Mueller", "Müller", "MÜLLER", "müller gmbh"):
        assert names(client, q=term) == ["Müller GmbH"], term
    for term in ("두산", "dusan", "로보틱스"):
        assert names(client, q=term) == ["두산로보틱스"], term
    assert names(client, q="jiho@doosan") == ["두산로보틱스"]  # a contact's e-mail
    assert names(client, q="Raghavan") == ["Quiet Labs"]  # a contact's name
    assert names(client, q="plain.example") == ["Plain Energy"]  # the domain
    page = page_text(client, q="nothing like it")
    assert "No startup matches these filters." in page and ">Clear filters</a>" in page


def test_search_takes_wildcards_literally(db, viewer):
    client, _ = viewer
    for name in ("100% Solar", "Under_score Labs", "Underscore Labs"):
        make_startup(db, name, country="DE", contact_email=None)

    assert names(client, q="%") == ["100% Solar"]
    assert names(client, q="_") == ["Under_score Labs"]
    assert names(client, q="underscore") == ["Underscore Labs"]


# --- filters -------------------------------------------------------------------------------------


@pytest.fixture
def filter_world(app, db, make_user, bd):
    """Startups differing in one filter each, two enrolled (one overdue)."""
    client, me = bd
    other = make_user(Role.BD_MANAGER, name="Other Owner")
    base = datetime.now(UTC)
    with app.app_context():
        session = get_session()
        programme = make_programme(session)

        def startup(name: str, **fields) -> Startup:
            sectors, tags = fields.pop("sectors", ()), fields.pop("tags", ())
            created = make_startup(session, name, contact_email=None,
                                   **{"country": "IN", **fields})
            session.add_all([StartupSector(startup_id=created.id, sector=s) for s in sectors]
                            + [StartupTag(startup_id=created.id, tag=t) for t in tags])
            session.commit()
            return created

        made = {
            "mine": startup("Mine Robotics", owner_id=me.id),
            "other": startup("Other Robotics", owner_id=other.id),
            "korean": startup("Seoul Sensors", country="KR"),
            "medtech": startup("Heart Patch", sectors=("MedTech",)),
            "tagged": startup("Hot Lead", tags=("hot",)),
            "landed": startup("Landed Co", status=StartupStatus.LANDED),
            "fair": startup("Fair Find", source=LeadSource.EVENT, source_detail="MEDICA 2026"),
            "enrolled": startup("Enrolled Now"),
            "late": startup("Late Intake"),
        }
        engine.enroll(session, startup=made["enrolled"], programme=programme,
                      actor=Actor.user(me), now=base)
        engine.enroll(session, startup=made["late"], programme=programme, actor=Actor.user(me),
                      stage="intake", now=base - timedelta(days=40))
        session.commit()
        names_by_key = {key: value.name for key, value in made.items()}
    return client, me, other, names_by_key


def test_every_filter_narrows_the_list(filter_world):
    client, me, other, made = filter_world
    everyone = set(made.values())
    assert set(names(client)) == everyone

    assert names(client, owner="me") == [made["mine"]]
    assert names(client, owner=str(other.id)) == [made["other"]]
    assert set(names(client, owner="none")) == everyone - {made["mine"], made["other"]}
    assert names(client, owner="unassigned") == names(client, owner="none")
    assert names(client, country="KR") == [made["korean"]]
    assert names(client, country="kr") == [made["korean"]]
    assert names(client, sector="MedTech") == [made["medtech"]]
    assert names(client, tag="hot") == [made["tagged"]]
    assert names(client, status="landed") == [made["landed"]]
    assert names(client, source="event") == [made["fair"]]
    assert names(client, event="MEDICA 2026") == [made["fair"]]
    assert set(names(client, programme="corridor")) == {made["enrolled"], made["late"]}
    assert names(client, programme="corridor", stage="intake") == [made["late"]]
    assert names(client, overdue="1") == [made["late"]]
    # combined filters are ANDed; a stage without its programme counts for nothing
    assert names(client, programme="corridor", overdue="1", country="KR") == []
    assert set(names(client, stage="intake")) == everyone


def test_the_rows_show_programme_stage_owner_country_and_the_overdue_mark(filter_world):
    client, me, _other, made = filter_world
    page = page_text(client)

    late = re.search(r'<tr>(?:(?!</tr>).)*Late Intake(?:(?!</tr>).)*</tr>', page, re.S).group(0)
    assert "Corridor · Intake" in late and '<span class="overdue">Overdue</span>' in late
    enrolled = re.search(r'<tr>(?:(?!</tr>).)*Enrolled Now(?:(?!</tr>).)*</tr>', page, re.S)
    assert "Corridor · Lead" in enrolled.group(0) and "Overdue</span>" not in enrolled.group(0)
    mine = re.search(r'<tr>(?:(?!</tr>).)*Mine Robotics(?:(?!</tr>).)*</tr>', page, re.S)
    assert f"<td>{me.name}</td>" in mine.group(0) and "<td>India</td>" in mine.group(0)


def test_the_filter_form_offers_what_is_there_and_keeps_what_was_chosen(filter_world):
    client, _me, other, _made = filter_world
    page = page_text(client, country="KR", tag="hot", owner="me", overdue="1",
                     programme="corridor", stage="intake", sector="MedTech",
                     event="MEDICA 2026", source="event", q="x")

    assert '<option value="KR" selected>South Korea</option>' in page
    assert '<option value="IN">India</option>' in page
    assert '<option value="DE">' not in page  # no German startup: no such choice
    assert '<option value="hot" selected>hot</option>' in page
    assert '<option value="MedTech" selected>MedTech</option>' in page
    assert '<option value="MEDICA 2026" selected>MEDICA 2026</option>' in page
    assert '<option value="me" selected>Me</option>' in page
    assert f'<option value="{other.id}">Other Owner</option>' in page
    assert '<option value="corridor" selected>Corridor</option>' in page
    assert re.search(r'<optgroup label="Corridor" data-programme="corridor">.*?'
                     r'<option value="intake" selected>Intake</option>', page, re.S)
    assert '<option value="event" selected>Event</option>' in page
    assert 'id="overdue" name="overdue" value="1" checked' in page
    assert 'value="x"' in page


def test_odd_filter_values_are_ignored_not_an_error(viewer, db):
    client, _ = viewer
    make_startup(db, "Only One", country="DE", contact_email=None)
    for params in ({"owner": "somebody"}, {"country": "Germany"}, {"status": "nope"},
                   {"source": "x"}, {"sort": "password"}, {"dir": "sideways"},
                   {"after": "!!!"}, {"after": "W10"}, {"overdue": "maybe"}):
        assert names(client, **params) == ["Only One"], params


# --- sorting and keyset pages --------------------------------------------------------------------


SORT_KEYS = [(key, direction) for key in listing.SORTS for direction in ("asc", "desc")]


def expected_order(startups: list[Startup], key: str, direction: str) -> list[int]:
    """The order the list promises, computed in Python (ties broken by name, then id)."""
    if key == "owner":  # grouped by owner id, unassigned last when ascending
        order = (sorted((s for s in startups if s.owner_id is not None),
                        key=lambda s: (s.owner_id, s.name, s.id))
                 + sorted((s for s in startups if s.owner_id is None),
                          key=lambda s: (s.name, s.id)))
    else:
        column = {"name": "name", "country": "country", "status": "status",
                  "created": "created_at", "updated": "updated_at"}[key]
        with_name = key in ("country", "status")
        order = sorted(startups, key=lambda s: (getattr(s, column),
                                                s.name if with_name else "", s.id))
    return [s.id for s in (order if direction == "asc" else order[::-1])]


@pytest.fixture
def repeated_names(db, make_user, monkeypatch):
    """Twelve startups whose names, countries, owners and times repeat: pages of four."""
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    owners = [make_user(Role.BD_MANAGER).id, make_user(Role.MANAGER).id, None]
    moments = [datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC)]
    startups = []
    try:
        for number in range(12):
            set_clock(lambda number=number: moments[number % 2])  # equal created/updated times
            startup = Startup(name=f"Acme {number // 3}", country=["DE", "IN", "KR"][number % 3],
                              owner_id=owners[number % 3],
                              status=[StartupStatus.LEAD, StartupStatus.ACTIVE][number % 2])
            db.add(startup)
            db.flush()
            refresh_search_fields(db, startup)
            startups.append(startup)
        db.commit()
    finally:
        set_clock(None)
    return startups


@pytest.mark.parametrize(("key", "direction"), SORT_KEYS)
def test_every_sort_pages_through_without_repeating_or_skipping(viewer, repeated_names, key,
                                                                direction):
    client, _ = viewer
    pages, url = [], f"/?sort={key}&dir={direction}"
    while url:
        page = page_text(client, url)
        pages.append(ids(page))
        url = next_link(page)
        if url and (key, direction) != ("name", "asc"):  # the default order needs no args
            assert f"sort={key}" in url and f"dir={direction}" in url
            assert re.search(r"after=[A-Za-z0-9_-]+", url)
        assert len(pages) <= 4, "pagination does not end"

    assert [len(found) for found in pages] == [4, 4, 4]
    seen = [startup_id for found in pages for startup_id in found]
    assert seen == expected_order(repeated_names, key, direction)


@pytest.mark.parametrize("count_cap", [5, listing.COUNT_CAP])
@pytest.mark.parametrize(("key", "direction"), [("name", "asc"), ("owner", "desc")])
def test_a_search_pages_the_same_whether_it_walks_the_order_or_picks_matches_first(
        viewer, repeated_names, monkeypatch, count_cap, key, direction):
    client, _ = viewer
    # Beyond the cap (5 of 12 match) the list walks its order; below it SQLite picks first.
    monkeypatch.setattr(listing, "COUNT_CAP", count_cap)
    pages = paged_ids(client, f"/?q=acme&sort={key}&dir={direction}", at_most=4)
    assert [len(found) for found in pages] == [4, 4, 4]
    assert [startup_id for found in pages for startup_id in found] == expected_order(
        repeated_names, key, direction)


def test_sort_headers_toggle_the_direction_and_keep_the_filters(viewer, repeated_names):
    client, _ = viewer
    page = page_text(client, q="acme", sort="country", dir="asc")

    assert '<th scope="col" aria-sort="ascending">' in page
    assert 'href="/?q=acme&sort=country&dir=desc">Country' in html.unescape(page)
    assert 'href="/?q=acme&sort=updated&dir=desc">Updated' in page
    assert 'href="/?q=acme">Name' in page  # the default order needs no arguments
    filters_form = page.split('role="search"')[1].split("</form>")[0]
    assert '<input type="hidden" name="sort" value="country">' in filters_form


def test_first_page_link_and_cursors_of_another_order_restart(viewer, repeated_names):
    client, _ = viewer
    first = page_text(client, "/?sort=name&dir=desc")
    second_url = next_link(first)
    second = page_text(client, second_url)
    assert ids(second) != ids(first)
    assert 'href="/?sort=name&dir=desc">First page</a>' in second

    cursor = parse_qs(urlsplit(second_url).query)["after"][0]
    # The same cursor under another order is not understood: the first page, no error.
    assert ids(page_text(client, f"/?after={cursor}")) == ids(page_text(client, "/"))
    forged = base64.urlsafe_b64encode(json.dumps(["name", "asc", 5, "x"]).encode()).decode()
    assert ids(page_text(client, "/", after=forged)) == ids(page_text(client, "/"))


# --- the count -----------------------------------------------------------------------------------


def test_the_count_is_capped(viewer, db, monkeypatch):
    client, _ = viewer
    monkeypatch.setattr(listing, "COUNT_CAP", 5)
    db.execute(insert(Startup), [{"name": f"Many {n}", "country": "DE",
                                  "search_text": f"many {n}"} for n in range(7)])
    db.commit()

    assert "More than 5 startups" in page_text(client)
    few = page_text(client, q="Many 1")
    assert "1 startup" in few and "More than" not in few


def test_empty_list_and_empty_later_page(viewer):
    client, _ = viewer
    page = page_text(client)
    assert "No startups yet." in page and "0 startups" in page and "Next page" not in page
    assert "Clear filters" not in page


# --- query counts --------------------------------------------------------------------------------


def _bulk_startups(db: Session, count: int, programme_id: int, version_id: int,
                   owner_id: int) -> None:
    """Many startups fast: plain INSERTs of startups, sectors, tags and open enrollments."""
    now = datetime.now(UTC)
    first = (db.scalar(select(Startup.id).order_by(Startup.id.desc()).limit(1)) or 0) + 1
    db.execute(insert(Startup), [
        {"id": first + n, "name": f"Bulk {n:04d}", "country": ["DE", "IN", "KR"][n % 3],
         "owner_id": owner_id if n % 2 else None, "search_text": f"bulk {n:04d}",
         "created_at": now, "updated_at": now} for n in range(count)])
    db.execute(insert(StartupSector), [{"startup_id": first + n, "sector": f"S{n % 7}",
                                        "created_at": now, "updated_at": now}
                                       for n in range(count)])
    db.execute(insert(StartupTag), [{"startup_id": first + n, "tag": f"t{n % 5}",
                                     "created_at": now, "updated_at": now}
                                    for n in range(count)])
    db.execute(insert(Enrollment), [
        {"startup_id": first + n, "programme_id": programme_id,
         "programme_version_id": version_id, "stage": "lead", "stage_entered_at": now,
         "due_at": now - timedelta(days=1) if n % 4 == 0 else now + timedelta(days=3),
         "status": EnrollmentStatus.OPEN, "fields": {}, "revision": 1,
         "created_at": now, "updated_at": now} for n in range(count)])
    db.commit()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER, Role.MANAGER])
def test_query_count_is_the_same_for_10_and_1000_startups(app, db, client_as, count_queries,
                                                         role):
    from tests.factories import current_version_id

    client, user = client_as(role)
    programme = make_programme(db)
    version_id = current_version_id(db, programme)
    urls = ["/", "/?sort=owner&dir=desc", "/?programme=corridor&stage=lead&overdue=1",
            "/?q=bulk&country=IN&tag=t1&sector=S1&owner=me",
            "/?programme=corridor&stage=lead&country=IN"]

    def counts() -> dict[str, int]:
        """Queries per URL, and per URL + " next" for its second page if it has one."""
        found = {}
        for url in urls:
            page = page_text(client, url)  # warm up
            with count_queries() as statements:
                page_text(client, url)
            found[url] = len(statements)
            if next_link(page):
                with count_queries() as statements:
                    page_text(client, next_link(page))
                found[url + " next"] = len(statements)
        return found

    _bulk_startups(db, 10, programme.id, version_id, user.id)
    few = counts()
    _bulk_startups(db, 990, programme.id, version_id, user.id)
    many = counts()

    assert "/ next" in many  # 1,000 rows make pages
    for url in urls:
        assert many[url] == few[url] <= 8, (url, few, many)
        assert many.get(url + " next", many[url]) == many[url], (url, many)
    assert max(many.values()) <= 12, many


@pytest.mark.parametrize("rows_from_enrollments", [0, listing.ROWS_FROM_ENROLLMENTS_MAX])
@pytest.mark.parametrize("sort", ["name", "owner"])
def test_programme_and_country_page_the_same_from_enrollments_or_the_list_order(
        app, db, client_as, monkeypatch, rows_from_enrollments, sort):
    """Counted from the programme's enrollments in the country (their copy of it, kept by a
    trigger), and paged from them when they are few; else the list's order is walked."""
    from tests.factories import current_version_id

    client, user = client_as(Role.VIEWER)
    programme = make_programme(db)
    _bulk_startups(db, 30, programme.id, current_version_id(db, programme), user.id)
    moved = db.scalar(select(Startup).where(Startup.name == "Bulk 0000"))  # DE, enrolled
    moved.country = "IN"  # the enrollment's copy follows
    db.commit()
    monkeypatch.setattr(listing, "ROWS_FROM_ENROLLMENTS_MAX", rows_from_enrollments)
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)

    pages = paged_ids(client, f"/?programme=corridor&stage=lead&country=IN&sort={sort}",
                      at_most=5)
    assert "11 startups" in page_text(client, "/?programme=corridor&stage=lead&country=IN")
    found = [startup_id for page_ids in pages for startup_id in page_ids]
    expected = list(db.scalars(
        select(Startup.id).where(Startup.country == "IN")
        .order_by(*listing.order_for(listing.ListView.from_args({"sort": sort})))))
    assert [len(page_ids) for page_ids in pages] == [4, 4, 3]
    assert found == expected and moved.id in found
    assert names(client, programme="corridor", stage="intake", country="IN") == []
    assert names(client, programme="corridor", country="KR") == names(client, country="KR")
