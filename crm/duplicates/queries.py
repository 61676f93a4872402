"""Reads of the find-duplicates page: pairs of existing startups by domain, e-mail or name.

Each reason is one aggregate query over an indexed key (GROUP BY domain, lower-cased contact
e-mail, the first letters of the name skeleton), newest groups first, paged by the group's
highest id (never OFFSET; no personal data in the URL), then one query for the members of the
page's groups (capped per group by ROW_NUMBER). The startups of all pairs and the dismissed
pairs among them are one query each, so the page's query count does not grow with the data.
Names are scored with rapidfuzz only within a group; pairs below the threshold are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from crm.duplicates.matching import (
    NAME_THRESHOLD,
    SHARED_DOMAINS,
    Candidate,
    is_shared_domain,
    name_score,
    probable_duplicates,
)
from crm.duplicates.models import DuplicateDismissal
from crm.startups.models import Contact, Startup
from crm.users.models import User

REASONS = ("domain", "email", "name")
#: Groups per reason on the overview, and on a reason's own page.
OVERVIEW_GROUPS = 10
PAGE_GROUPS = 40
#: Members read per group: exact keys (same domain or e-mail) and similar-name groups.
EXACT_MEMBERS = 8
NAME_MEMBERS = 30
#: Pairs shown per group at most (a group of eight would otherwise make 28).
PAIRS_PER_GROUP = 10
#: Names are compared within groups sharing this many first letters of the skeleton.
NAME_PREFIX = 6


@dataclass
class StartupRow:
    startup: Startup
    owner_name: str | None


@dataclass
class DuplicatePair:
    first: StartupRow
    second: StartupRow
    reason: str
    detail: str  # the shared domain or e-mail address, or the names' score
    score: int


@dataclass
class Section:
    reason: str
    pairs: list[DuplicatePair] = field(default_factory=list)
    next_after: int | None = None  # the `after` of the next page; None on the last one


@dataclass
class _Group:
    key: str
    last: int
    member_ids: list[int] = field(default_factory=list)


def _group_query(reason: str, after: int | None, size: int):
    if reason == "domain":
        key, last = Startup.domain, func.max(Startup.id)
        query = (select(key.label("key"), last.label("last"))
                 .where(key.is_not(None), key != "", key.not_in(SHARED_DOMAINS))
                 .group_by(key).having(func.count() > 1))
    elif reason == "email":
        key, last = func.lower(Contact.email), func.max(Contact.id)
        query = (select(key.label("key"), last.label("last"))
                 .where(Contact.email.is_not(None), Contact.email != "")
                 .group_by(key).having(func.count(func.distinct(Contact.startup_id)) > 1))
    else:
        key, last = func.substr(Startup.name_skeleton, 1, NAME_PREFIX), func.max(Startup.id)
        query = (select(key.label("key"), last.label("last"))
                 .where(Startup.name_skeleton != "")
                 .group_by(key).having(func.count() > 1))
    if after is not None:
        query = query.having(last < after)
    return query.order_by(last.desc()).limit(size + 1)


def _member_query(reason: str, keys: list[str]):
    """(startup id, group key) of the groups' members, the oldest few per group."""
    if reason == "domain":
        key = Startup.domain
        pairs = select(Startup.id.label("startup_id"), key.label("key")).where(key.in_(keys))
        cap = EXACT_MEMBERS
    elif reason == "email":
        key = func.lower(Contact.email)
        pairs = (select(Contact.startup_id.label("startup_id"), key.label("key"))
                 .where(key.in_(keys)).distinct())
        cap = EXACT_MEMBERS
    else:
        key = func.substr(Startup.name_skeleton, 1, NAME_PREFIX)
        ranges = [and_(Startup.name_skeleton >= k, Startup.name_skeleton <= k + "z" * 200)
                  for k in keys]  # index ranges first, then the exact prefix
        pairs = (select(Startup.id.label("startup_id"), key.label("key"))
                 .where(or_(*ranges), key.in_(keys)))
        cap = NAME_MEMBERS
    pairs = pairs.subquery()
    ranked = select(pairs.c.startup_id, pairs.c.key, func.row_number().over(
        partition_by=pairs.c.key, order_by=pairs.c.startup_id).label("rank")).subquery()
    return (select(ranked.c.startup_id, ranked.c.key).where(ranked.c.rank <= cap)
            .order_by(ranked.c.key, ranked.c.startup_id))


def _groups(db: Session, reason: str, after: int | None, size: int) -> tuple[list[_Group],
                                                                            int | None]:
    rows = db.execute(_group_query(reason, after, size)).all()
    more = len(rows) > size
    groups = [_Group(key=row[0], last=row[1]) for row in rows[:size]]
    if reason == "domain":
        groups = [group for group in groups if not is_shared_domain(group.key)]
    if groups:
        by_key = {group.key: group for group in groups}
        for startup_id, key in db.execute(_member_query(reason, list(by_key))):
            if key in by_key:
                by_key[key].member_ids.append(startup_id)
    next_after = rows[size - 1][1] if more else None
    return groups, next_after


def find_duplicate_pairs(db: Session, reasons: tuple[str, ...] = REASONS, *,
                         after: int | None = None,
                         size: int = OVERVIEW_GROUPS) -> dict[str, Section]:
    """The pairs of probable duplicates among existing startups, per reason, newest first;
    pairs someone said are not duplicates are left out."""
    found = {reason: _groups(db, reason, after, size) for reason in reasons}
    ids = {i for groups, _next in found.values() for group in groups for i in group.member_ids}
    rows: dict[int, StartupRow] = {}
    dismissed: set[tuple[int, int]] = set()
    if ids:
        for startup, owner_name in db.execute(
                select(Startup, User.name).outerjoin(User, User.id == Startup.owner_id)
                .where(Startup.id.in_(ids))):
            rows[startup.id] = StartupRow(startup, owner_name)
        dismissed = {(row[0], row[1]) for row in db.execute(
            select(DuplicateDismissal.first_startup_id, DuplicateDismissal.second_startup_id)
            .where(DuplicateDismissal.first_startup_id.in_(ids),
                   DuplicateDismissal.second_startup_id.in_(ids)))}
    sections = {}
    for reason, (groups, next_after) in found.items():
        section = Section(reason=reason, next_after=next_after)
        for group in groups:
            section.pairs.extend(_pairs_of(group, reason, rows, dismissed))
        sections[reason] = section
    return sections


def _pairs_of(group: _Group, reason: str, rows: dict[int, StartupRow],
              dismissed: set[tuple[int, int]]) -> list[DuplicatePair]:
    pairs = []
    members = [rows[i] for i in sorted(set(group.member_ids)) if i in rows]
    for first, second in combinations(members, 2):
        if (first.startup.id, second.startup.id) in dismissed:
            continue
        if reason == "name":
            score = name_score(first.startup.name, second.startup.name)
            if score < NAME_THRESHOLD:
                continue
            detail = str(score)
        else:
            score, detail = 100, group.key
        pairs.append(DuplicatePair(first, second, reason, detail, score))
    pairs.sort(key=lambda pair: -pair.score)
    return pairs[:PAIRS_PER_GROUP]


def possible_duplicates_of(db: Session, startup: Startup, contacts: list[Contact],
                           limit: int = 3) -> list[Candidate]:
    """The startup's probable duplicates not yet dismissed as different, best first."""
    candidates = probable_duplicates(
        db, name=startup.name, domain=startup.domain, exclude_ids=[startup.id],
        emails=[contact.email for contact in contacts if contact.email], limit=limit)
    if not candidates:
        return []
    others = [candidate.startup.id for candidate in candidates]
    dismissed = set(db.execute(
        select(DuplicateDismissal.first_startup_id, DuplicateDismissal.second_startup_id)
        .where(or_(and_(DuplicateDismissal.first_startup_id == startup.id,
                        DuplicateDismissal.second_startup_id.in_(others)),
                   and_(DuplicateDismissal.second_startup_id == startup.id,
                        DuplicateDismissal.first_startup_id.in_(others))))).all())
    return [candidate for candidate in candidates
            if tuple(sorted((startup.id, candidate.startup.id))) not in dismissed]
