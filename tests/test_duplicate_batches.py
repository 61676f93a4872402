"""Matching many startups at once (imports): the same candidates as one at a time, in few reads."""

from __future__ import annotations

from crm.duplicates.matching import (
    BLOCK_NEIGHBOURS,
    DuplicateFinder,
    Wanted,
    probable_duplicates,
)
from crm.startups.models import Startup
from crm.startups.search import name_key, name_skeleton
from tests.factories import make_startup
from tests.test_duplicates import DIFFERENT_COMPANIES, SAME_COMPANY


def _found(candidates) -> list[tuple[int, int, list[str]]]:
    return [(c.startup.id, c.score, c.reasons) for c in candidates]


def _crowd(db, count: int) -> None:
    """Many startups in one skeleton block, more than the neighbours read on either side."""
    for number in range(count):
        name = f"Doosan Robotics Branch {number}" if number % 2 else f"Doosan Robot {number}"
        db.add(Startup(name=name, country="KR", name_key=name_key(name),
                       name_skeleton=name_skeleton(name)))
    db.commit()


def test_a_batch_finds_what_one_at_a_time_finds(db, count_queries):
    existing = {first for first, _second in SAME_COMPANY + DIFFERENT_COMPANIES}
    for number, name in enumerate(sorted(existing)):
        make_startup(db, name, domain=f"site-{number}.example",
                     contact_email=f"founder@site-{number}.example")
    make_startup(db, "Mueller Tech", domain="www.mueller-tech.example", contact_email=None)
    _crowd(db, 2 * BLOCK_NEIGHBOURS + 60)
    wanted = [Wanted(second) for _first, second in SAME_COMPANY + DIFFERENT_COMPANIES]
    wanted += [
        Wanted("Something else", domain="mueller-tech.example"),
        Wanted("Someone", emails=(" Founder@Site-3.EXAMPLE",)),
        Wanted("Doosan Robotics", domain="site-1.example", emails=("founder@site-2.example",)),
        Wanted("Anything", domain="gmail.com"),
        Wanted("Doosan Robotics Branch 7"), Wanted("Doosan Robot 120"),
        Wanted("두산로보틱스 브랜치"), Wanted("Müller"), Wanted(""), Wanted("   "),
    ]
    expected = [_found(probable_duplicates(db, name=w.name, domain=w.domain, emails=w.emails,
                                           limit=10)) for w in wanted]
    assert sum(1 for found in expected if found) > len(SAME_COMPANY)  # not a vacuous match
    assert any(len(found) == 10 for found in expected)  # the crowd: cut at the limit

    finder = DuplicateFinder(db)
    half = len(wanted) // 2
    with count_queries() as queries:
        got = finder.find(wanted[:half], limit=10) + finder.find(wanted[half:], limit=10)
    assert [_found(candidates) for candidates in got] == expected
    # Per batch: domains, e-mails, exact names, the candidates; each skeleton block once.
    blocks = len({name_skeleton(w.name)[:3] for w in wanted} - {""})
    assert len(queries) <= 2 * 4 + blocks
