"""Duplicate matching: domains, e-mails and names across spellings and scripts; the indexed
lookup of probable duplicates; the find-duplicates page and "not duplicates"."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.duplicates.matching import (
    NAME_THRESHOLD,
    is_shared_domain,
    matchable_domain,
    name_score,
    normalise_domain,
    normalise_email,
    probable_duplicates,
)
from crm.duplicates.models import DuplicateDismissal
from crm.startups.models import Startup
from crm.startups.search import name_key, name_skeleton, refresh_search_fields
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup

# Pairs people at the desk have met: the same company written two ways.
SAME_COMPANY = [
    ("Doosan Robotics Inc.", "두산로보틱스"),
    ("Müller GmbH", "Mueller GmbH"),
    ("Müller GmbH", "Muller AG"),
    ("Straße Software", "Strasse Software"),
    ("Björn Borg", "Bjoern Borg"),
    ("Škoda Auto", "Skoda Auto"),
    ("Nestlé", "Nestle S.A."),
    ("Upstage", "업스테이지"),
    ("Sendbird", "센드버드"),
    ("Market Kurly", "마켓컬리"),
    ("Rebellions", "리벨리온"),
    ("FuriosaAI", "퓨리오사AI"),
    ("Yanolja", "야놀자"),
    ("Zigbang", "직방"),
    ("Coupang", "쿠팡"),
    ("Kakao Corp", "주식회사 카카오"),
    ("Naver", "네이버"),
    ("Riiid", "뤼이드"),
    ("Mercari", "株式会社メルカリ"),
    ("Sony", "ソニー"),
    ("Xiaomi", "小米"),
    ("Huawei", "华为"),
    ("Yandex", "Яндекс"),
    ("Zalando SE", "Zalando"),
    ("N26 GmbH", "N26"),
    ("Personio", "Personio GmbH & Co. KG"),
    ("Infosys Limited", "Infosys Ltd."),
    ("Razorpay Software Pvt Ltd", "Razorpay Software Private Limited"),
    ("Freshworks Inc", "Freshworks"),
    ("Doosan Robotics", "Doosan Robotic"),
    ("Tokopedia", "PT Tokopedia"),
    ("Bengaluru Robotics", "Bangalore Robotics"),
]
# Pairs that share a word or a sound but are different companies.
DIFFERENT_COMPANIES = [
    ("Tata Consultancy", "Tata Elxsi"),
    ("Tata Consultancy Services", "Tata Motors"),
    ("Müller GmbH", "Miller GmbH"),
    ("Robotics Lab", "Robotics Hub"),
    ("Samsung", "Samsara"),
    ("Infosys", "Infoedge"),
    ("Doosan Robotics", "Doosan Bobcat"),
    ("두산로보틱스", "두산에너빌리티"),
    ("Siemens", "Siemens Energy"),
    ("Delivery Hero", "Delivery Heroes Club"),
    ("Bata", "Pita"),
    ("Zeta", "Beta"),
    ("Kakao", "Cacao Berlin"),
    ("Alpha Labs", "Alpha Lab Ventures"),
    ("Nova Tech", "Nova Health"),
    ("Wipro", "Wipfli"),
    ("Flipkart", "Flipboard"),
    ("Grab", "Gojek"),
    ("Ola", "Olx"),
]


@pytest.mark.parametrize(("first", "second"), SAME_COMPANY)
def test_the_same_company_written_two_ways_is_a_probable_duplicate(first, second):
    assert name_score(first, second) >= NAME_THRESHOLD
    assert name_score(second, first) == name_score(first, second)


@pytest.mark.parametrize(("first", "second"), DIFFERENT_COMPANIES)
def test_different_companies_are_not_duplicates_at_the_threshold(first, second):
    assert name_score(first, second) < NAME_THRESHOLD


def test_romanised_korean_and_english_share_the_blocking_key():
    assert name_skeleton("Doosan Robotics Inc.") == name_skeleton("두산로보틱스") == "tsnrptks"
    assert name_skeleton("Müller GmbH") == name_skeleton("Mueller GmbH")
    assert name_key("株式会社メルカリ") == "merukari"  # the legal form goes before romanising
    assert name_key("(주)카카오") == name_key("주식회사 카카오") == "kakao"


@pytest.mark.parametrize(("given", "expected"), [
    ("https://www.Foo.de/x", "foo.de"),
    ("foo.de", "foo.de"),
    ("WWW.foo.de.", "foo.de"),
    ("http://user@foo.de:8080/path?q=1", "foo.de"),
    ("www2.foo.co.uk/a", "foo.co.uk"),
    ("founder@Foo.DE", "foo.de"),
    ("mailto:x@foo.de", "foo.de"),
    ("müller.de", "müller.de"),
    ("", None), ("   ", None), (None, None), ("not a domain", None), ("https://", None),
])
def test_domains_are_normalised(given, expected):
    assert normalise_domain(given) == expected


@pytest.mark.parametrize("domain", ["gmail.com", "naver.com", "qq.com", "yahoo.co.jp",
                                    "hotmail.de", "outlook.com", "linkedin.com", "163.com"])
def test_mail_and_social_domains_say_nothing(domain):
    assert is_shared_domain(domain)
    assert matchable_domain(f"https://www.{domain}/company/x") is None


@pytest.mark.parametrize(("given", "expected"), [
    (" A@B.de ", "a@b.de"), ("Name <A@b.DE>", "a@b.de"), ("mailto:x@y.com", "x@y.com"),
    ("nope", None), ("a@b", None), ("", None), (None, None),
])
def test_emails_are_normalised(given, expected):
    assert normalise_email(given) == expected


# probable_duplicates against the database ------------------------------------------------


def _startup(db, name: str, domain: str | None = None, email: str | None = None) -> Startup:
    return make_startup(db, name, domain=domain, contact_email=email)


def test_probable_duplicates_by_domain_email_and_name(db):
    doosan = _startup(db, "두산로보틱스", domain="doosanrobotics.com")
    mueller = _startup(db, "Mueller GmbH", email="info@mueller.example")
    _startup(db, "Tata Elxsi", domain="tataelxsi.example")
    gmail_user = _startup(db, "Unrelated Co", domain="gmail.com")

    by_domain = probable_duplicates(db, name="Something else",
                                    domain="https://www.DoosanRobotics.com/en")
    assert [(c.startup.id, c.score, c.reasons) for c in by_domain] == [
        (doosan.id, 100, ["domain"])]
    by_name = probable_duplicates(db, name="Doosan Robotics Inc.")
    assert [c.startup.id for c in by_name] == [doosan.id]
    assert by_name[0].reasons == ["name"] and by_name[0].score >= NAME_THRESHOLD
    both = probable_duplicates(db, name="Doosan Robotics", domain="doosanrobotics.com")
    assert both[0].reasons == ["domain", "name"] and both[0].score == 100

    by_email = probable_duplicates(db, name="Someone", emails=[" Info@Mueller.EXAMPLE"])
    assert [(c.startup.id, c.reasons) for c in by_email] == [(mueller.id, ["email"])]
    assert probable_duplicates(db, name="Müller GmbH")[0].startup.id == mueller.id

    assert probable_duplicates(db, name="Tata Consultancy") == []
    assert probable_duplicates(db, name="Anything", domain="gmail.com") == []
    assert gmail_user.id not in [c.startup.id for c in
                                 probable_duplicates(db, name="x", domain="mail.gmail.com")]
    assert probable_duplicates(db, name="Doosan Robotics", exclude_ids=[doosan.id]) == []
    assert probable_duplicates(db, name="") == []


def test_probable_duplicates_reads_a_bounded_number_of_rows(db, app, count_queries):
    for number in range(60):
        db.add(Startup(name=f"Doosan Robotics Branch {number}", country="KR",
                       name_key=name_key(f"Doosan Robotics Branch {number}"),
                       name_skeleton=name_skeleton(f"Doosan Robotics Branch {number}")))
    original = _startup(db, "두산로보틱스")
    db.commit()
    with count_queries() as statements:
        found = probable_duplicates(db, name="Doosan Robotics", domain="doosan.example",
                                    emails=["a@doosan.example"], limit=3)
    assert found[0].startup.id == original.id
    assert len(found) <= 3
    assert len(statements) <= 6


def test_refresh_keeps_the_blocking_key_current(db):
    startup = _startup(db, "Old Name")
    startup.name = "두산로보틱스"
    refresh_search_fields(db, startup)
    db.commit()
    assert fresh(db).get(Startup, startup.id).name_skeleton == "tsnrptks"


# The find-duplicates page ---------------------------------------------------------------------


def _seed_pairs(db, owner_id: int | None = None) -> dict[str, tuple[Startup, Startup]]:
    """A domain pair, an e-mail pair (different case), a romanised pair and a dismissed one."""
    def add(name, **fields):
        return make_startup(db, name, owner_id=owner_id, **fields)

    pairs = {
        "domain": (add("Kestrel Analytics", domain="kestrel.example", contact_email=None),
                   add("Kestrel Data Labs", domain="kestrel.example", contact_email=None)),
        "email": (add("Orbit Foods", contact_email="ceo@orbit-foods.example"),
                  add("Orbit Nutrition", contact_email="CEO@Orbit-Foods.example")),
        "name": (add("Doosan Robotics Inc.", contact_email=None),
                 add("두산로보틱스", contact_email=None)),
        "dismissed": (add("Tata Consultancy Services", domain="tcs.example",
                          contact_email=None),
                      add("TCS Digital", domain="tcs.example", contact_email=None)),
        "shared": (add("Sunrise Bakery", domain="gmail.com", contact_email=None),
                   add("Quantum Leap Robotics", domain="gmail.com", contact_email=None)),
    }
    first, second = pairs["dismissed"]
    db.add(DuplicateDismissal(first_startup_id=first.id, second_startup_id=second.id))
    db.commit()
    return pairs


def _rows(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)]


def _has_pair(page: str, first: str, second: str) -> bool:
    return any(first in row and second in row for row in _rows(page))


def test_the_find_page_lists_pairs_by_reason_and_hides_dismissed_ones(db, client_as):
    client, user = client_as(Role.BD_MANAGER)
    pairs = _seed_pairs(db, owner_id=user.id)
    response = client.get("/duplicates/")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    domain_section, rest = page.split('id="duplicates-email"')
    email_section, name_section = rest.split('id="duplicates-name"')
    assert _has_pair(domain_section, "Kestrel Analytics", "Kestrel Data Labs")
    assert "kestrel.example" in domain_section
    assert _has_pair(email_section, "Orbit Foods", "Orbit Nutrition")
    assert "ceo@orbit-foods.example" in email_section
    assert _has_pair(name_section, "Doosan Robotics Inc.", "두산로보틱스")
    assert "Tata Consultancy Services" not in page  # said to be different
    assert "Sunrise Bakery" not in page  # a mail service's domain says nothing
    first, second = pairs["domain"]
    assert f'href="/duplicates/merge?a={first.id}&b={second.id}"' in page
    assert page.count(">Not duplicates</button>") == 3


def test_each_reason_has_its_own_pages(db, client_as):
    client, user = client_as(Role.MANAGER)
    _seed_pairs(db)
    page = html.unescape(client.get("/duplicates/?reason=name").get_data(as_text=True))
    assert 'id="duplicates-name"' in page and 'id="duplicates-domain"' not in page
    assert _has_pair(page, "Doosan Robotics Inc.", "두산로보틱스")
    assert client.get("/duplicates/?reason=nonsense&after=x").status_code == 200


def test_pages_continue_after_the_newest_groups(db, client_as, monkeypatch):
    from crm.duplicates import queries

    monkeypatch.setattr(queries, "PAGE_GROUPS", 2)
    client, _user = client_as(Role.MANAGER)
    for number in range(5):
        for suffix in ("A", "B"):
            make_startup(db, f"Company {number}{suffix}", domain=f"company{number}.example",
                         contact_email=None)
    seen = []
    url = "/duplicates/?reason=domain"
    while url:
        page = html.unescape(client.get(url).get_data(as_text=True))
        seen.extend(dict.fromkeys(re.findall(r"company(\d)\.example", page)))
        next_link = re.search(r'href="(/duplicates/\?reason=domain&amp;after=\d+|'
                              r'/duplicates/\?reason=domain&after=\d+)">Next page', page)
        url = next_link.group(1).replace("&amp;", "&") if next_link else None
    assert seen == ["4", "3", "2", "1", "0"]  # newest first, each once, OFFSET-free


def test_not_duplicates_hides_the_pair_for_everyone_and_is_audited(db, client_as):
    client, user = client_as(Role.BD_MANAGER)
    pairs = _seed_pairs(db, owner_id=user.id)
    first, second = pairs["domain"]
    response = client.post("/duplicates/dismiss", data={
        "csrf_token": csrf_token(client, "/duplicates/"), "a": second.id, "b": first.id,
        "next": "/duplicates/?reason=domain"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/duplicates/?reason=domain"
    row = fresh(db).get(DuplicateDismissal, (first.id, second.id))
    assert row is not None and row.dismissed_by_id == user.id
    event = fresh(db).scalar(select(AuditEvent).where(
        AuditEvent.action == "duplicates.dismissed"))
    assert (event.object_id, event.details["other_startup_id"]) == (first.id, second.id)
    page = html.unescape(client.get("/duplicates/").get_data(as_text=True))
    assert "will not be offered as duplicates again" in page
    assert not _has_pair(page, "Kestrel Analytics", "Kestrel Data Labs")
    assert _has_pair(page, "Orbit Foods", "Orbit Nutrition")
    again = client.post("/duplicates/dismiss", data={
        "csrf_token": csrf_token(client, "/duplicates/"), "a": first.id, "b": second.id})
    assert again.status_code == 302  # said twice: still one row, one event
    assert count_rows(db, AuditEvent, AuditEvent.action == "duplicates.dismissed") == 1


def count_rows(db, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def test_viewers_see_the_pairs_but_no_buttons_and_may_not_dismiss(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER)
    pairs = _seed_pairs(db, owner_id=owner.id)
    client, _viewer = client_as(Role.VIEWER)
    page = html.unescape(client.get("/duplicates/").get_data(as_text=True))
    assert _has_pair(page, "Kestrel Analytics", "Kestrel Data Labs")
    assert "Not duplicates" not in page and "/duplicates/merge" not in page
    first, second = pairs["domain"]
    response = client.post("/duplicates/dismiss", data={
        "csrf_token": csrf_token(client, "/duplicates/"), "a": first.id, "b": second.id})
    assert response.status_code == 403
    assert count_rows(db, DuplicateDismissal) == 1  # only the seeded one


def test_a_bd_manager_may_not_dismiss_someone_elses_pair(db, client_as, make_user):
    owner = make_user(Role.BD_MANAGER)
    pairs = _seed_pairs(db, owner_id=owner.id)
    client, _bd = client_as(Role.BD_MANAGER)
    page = html.unescape(client.get("/duplicates/").get_data(as_text=True))
    assert "Only someone who may edit both can merge them." in page
    first, second = pairs["email"]
    response = client.post("/duplicates/dismiss", data={
        "csrf_token": csrf_token(client, "/duplicates/"), "a": first.id, "b": second.id})
    assert response.status_code == 403
    assert count_rows(db, DuplicateDismissal) == 1


def test_an_incomplete_dismissal_changes_nothing(db, client_as):
    client, user = client_as(Role.MANAGER)
    pairs = _seed_pairs(db)
    first, _second = pairs["domain"]
    for data in ({"a": first.id}, {"a": first.id, "b": first.id}, {"a": "x", "b": "y"}):
        response = client.post("/duplicates/dismiss", data={
            "csrf_token": csrf_token(client, "/duplicates/"), **data})
        assert response.status_code == 302
    assert count_rows(db, DuplicateDismissal) == 1
    page = html.unescape(client.get("/duplicates/").get_data(as_text=True))
    assert "This form is incomplete." in page


def test_empty_states(db, client_as):
    client, _user = client_as(Role.VIEWER)
    page = html.unescape(client.get("/duplicates/").get_data(as_text=True))
    assert "No two startups share a website." in page
    assert "No two startups share a contact email." in page
    assert "No startup names are alike." in page


def _seed_many(db, number: int) -> None:
    for index in range(number):
        db.add(Startup(name=f"Filler {index:04d} Ventures", country="DE",
                       name_key=name_key(f"Filler {index:04d} Ventures"),
                       name_skeleton=name_skeleton(f"Filler {index:04d} Ventures"),
                       domain=f"filler{index // 2}.example"))  # pairs of shared domains
    db.commit()


def test_the_find_page_runs_the_same_queries_for_10_and_100_startups(db, client_as,
                                                                      count_queries):
    client, _user = client_as(Role.MANAGER)
    _seed_pairs(db)
    _seed_many(db, 10)
    client.get("/duplicates/")  # warm up: session, user
    with count_queries() as small:
        assert client.get("/duplicates/").status_code == 200
    _seed_many(db, 90)
    with count_queries() as large:
        page = client.get("/duplicates/").get_data(as_text=True)
    assert len(large) == len(small), "\n".join(large)
    assert "filler" in page


def test_a_startup_s_duplicates_are_a_click_away_until_dismissed(db, client_as):
    client, _ = client_as(Role.BD_MANAGER)
    viewer, _ = client_as(Role.VIEWER)
    ours = make_startup(db, "Doosan Robotics Inc.", domain="doosanrobotics.example",
                        contact_email=None)
    theirs = make_startup(db, "두산로보틱스", country="KR", contact_email=None)
    unrelated = make_startup(db, "Tata Elxsi", contact_email=None)
    duplicates_of = f"/duplicates/startup/{ours.id}"
    assert duplicates_of in client.get(f"/startups/{ours.id}").get_data(as_text=True)

    page = html.unescape(client.get(duplicates_of).get_data(as_text=True))
    assert "두산로보틱스" in page and "similar name" in page and "Tata Elxsi" not in page
    assert f"/duplicates/merge?a={ours.id}&b={theirs.id}" in page
    seen_by_viewer = html.unescape(viewer.get(duplicates_of).get_data(as_text=True))
    assert "두산로보틱스" in seen_by_viewer and "/duplicates/merge" not in seen_by_viewer
    assert "No probable duplicates of this startup." in client.get(
        f"/duplicates/startup/{unrelated.id}").get_data(as_text=True)

    response = client.post("/duplicates/dismiss", data={
        "a": ours.id, "b": theirs.id, "next": duplicates_of,
        "csrf_token": csrf_token(client, duplicates_of)})

    assert response.status_code == 302 and response.headers["Location"] == duplicates_of
    assert "No probable duplicates of this startup." in client.get(duplicates_of).get_data(
        as_text=True)
    assert "No probable duplicates of this startup." in client.get(
        f"/duplicates/startup/{theirs.id}").get_data(as_text=True)
