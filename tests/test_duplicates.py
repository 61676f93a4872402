"""Duplicate matching: domains, e-mails and names across spellings and scripts; the indexed
lookup of probable duplicates; the find-duplicates page and "not duplicates"."""

from __future__ import annotations

import pytest

from crm.duplicates.matching import (
    NAME_THRESHOLD,
    is_shared_domain,
    matchable_domain,
    name_score,
    normalise_domain,
    normalise_email,
    probable_duplicates,
)
from crm.startups.models import Startup
from crm.startups.search import name_key, name_skeleton, refresh_search_fields
from tests.conftest import fresh
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
