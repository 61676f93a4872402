"""What the measurements ask for, read from the data before timing starts: who logs in, which
programme, stages, countries, names, cursors and ids the varied requests use.

Everything is chosen deterministically (fixed orders, evenly spaced picks), so two runs on the
same data make the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, Role
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.startups.listing import ListView, encode_cursor
from crm.startups.models import Activity, Startup
from crm.users.models import User
from crm.workflow.models import Enrollment

VARIANTS = 12  # distinct filter values per varied page


@dataclass(frozen=True)
class Fixture:
    bd_manager: str  # e-mail: the timeline startup's owner, else who owns the most startups
    manager: str
    admin: str
    largest_programme: str
    # (programme key, stage, country) of open enrollments: filters that find something
    programme_stage_countries: list[tuple[str, str, str]]
    countries: list[str]  # the most common first
    search_terms: list[str]
    deep_cursors: list[str]  # keyset cursors of the default order, spread over the list
    timeline_startup_id: int
    outbox_statuses: list[str]  # those that some message is in
    outbox_before_ids: list[int]
    startups: int


def _spread(items: list[Any], count: int = VARIANTS) -> list[Any]:
    """`count` items evenly spaced over the list (all of them if there are fewer)."""
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(index * step)] for index in range(count)]


def _first_of_role(db: Session, role: Role) -> str:
    email = db.scalar(select(User.email).where(User.role == role, User.is_active)
                      .order_by(User.id).limit(1))
    if email is None:
        raise LookupError(f"the data has no active {role.value}")
    return email


def read_fixture(db: Session, summary: dict[str, Any]) -> Fixture:
    """The fixture for this data; the generator's summary names the logins, the timeline
    startup and the largest programme (found here when measuring other data)."""
    startups = db.scalar(select(func.count()).select_from(Startup))
    logins = summary.get("logins") or {}
    return Fixture(
        bd_manager=logins.get(Role.BD_MANAGER.value) or _busiest_owner(db),
        manager=logins.get(Role.MANAGER.value) or _first_of_role(db, Role.MANAGER),
        admin=logins.get(Role.ADMIN.value) or _first_of_role(db, Role.ADMIN),
        largest_programme=summary.get("largest_programme") or _largest_programme(db),
        programme_stage_countries=_spread(_open_stage_countries(db)),
        countries=_spread(list(db.scalars(
            select(Startup.country).group_by(Startup.country)
            .order_by(func.count().desc(), Startup.country)))),
        search_terms=_search_terms(db, startups),
        deep_cursors=_deep_cursors(db, startups),
        timeline_startup_id=summary.get("timeline_startup_id") or _busiest_startup(db),
        outbox_statuses=list(db.scalars(select(OutboxMessage.status).distinct()
                                        .order_by(OutboxMessage.status))),
        outbox_before_ids=_outbox_pages(db),
        startups=startups,
    )


def _busiest_owner(db: Session) -> str:
    email = db.scalar(
        select(User.email).join(Startup, Startup.owner_id == User.id)
        .where(User.role == Role.BD_MANAGER, User.is_active)
        .group_by(User.id, User.email).order_by(func.count().desc(), User.id).limit(1))
    if email is None:
        raise LookupError("the data has no BD manager who owns startups")
    return email


def _largest_programme(db: Session) -> str:
    return db.scalar(
        select(Programme.key).join(Enrollment, Enrollment.programme_id == Programme.id)
        .where(Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Programme.key).order_by(func.count().desc(), Programme.key).limit(1))


def _open_stage_countries(db: Session) -> list[tuple[str, str, str]]:
    """Every (programme, stage, country) with open enrollments, the most frequent first."""
    return [tuple(row) for row in db.execute(
        select(Programme.key, Enrollment.stage, Startup.country)
        .join(Enrollment, Enrollment.programme_id == Programme.id)
        .join(Startup, Startup.id == Enrollment.startup_id)
        .where(Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Programme.key, Enrollment.stage, Startup.country)
        .order_by(func.count().desc(), Programme.key, Enrollment.stage, Startup.country))]


def _every_nth(db: Session, query, startups: int, count: int = VARIANTS) -> list[Any]:
    """Rows of `query` (ordered) at evenly spaced offsets through the startups."""
    step = max(1, startups // count)
    return [row for offset in range(step // 2, startups, step)[:count]
            if (row := db.execute(query.offset(offset).limit(1)).first()) is not None]


def _search_terms(db: Session, startups: int) -> list[str]:
    """The longest word of startup names spread over the table: what a person types to find
    one company (a few match more than one)."""
    names = _every_nth(db, select(Startup.name).order_by(Startup.id), startups)
    return [max(row.name.split(), key=len) for row in names]


def _deep_cursors(db: Session, startups: int) -> list[str]:
    """Cursors of the default order (name) at evenly spaced depths, as a "next" link carries
    them: the page after that startup."""
    view = ListView()
    rows = _every_nth(db, select(Startup).order_by(Startup.name, Startup.id), startups)
    return [encode_cursor(view, row.Startup) for row in rows]


def _busiest_startup(db: Session) -> int:
    return db.scalar(select(Activity.startup_id).group_by(Activity.startup_id)
                     .order_by(func.count().desc(), Activity.startup_id).limit(1))


def _outbox_pages(db: Session) -> list[int]:
    """`before` ids spread over the outbox, as its "older" links carry them."""
    newest = db.scalar(select(func.max(OutboxMessage.id))) or 0
    return [newest * position // VARIANTS for position in range(VARIANTS, 0, -1)][1:]
