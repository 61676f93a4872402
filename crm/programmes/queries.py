"""Reads for the pipeline board (per stage its count and first cards) and the programme admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, union_all
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, Role
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.filters import OWNER_NONE, StartupFilters
from crm.startups.listing import values_in_use
from crm.startups.models import Startup
from crm.users.models import User
from crm.workflow.calendar import working_days_between
from crm.workflow.definitions import ProgrammeDefinition, StageDefinition
from crm.workflow.models import Enrollment

CARDS_PER_COLUMN = 20
COUNT_CAP = 1000  # a column counts its cards this far and shows "1000+" beyond
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class SlaState(StrEnum):
    NONE = "none"  # no SLA in this stage, or closed
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def sla_state(due_at: datetime | None, now: datetime, due_soon_working_days: int) -> SlaState:
    """Overdue from `due_at` on (as the overdue filter and counts: `due_at <= now`); due soon
    while at most `due_soon_working_days` working days (NRW) are left after today."""
    if due_at is None:
        return SlaState.NONE
    if due_at <= now:
        return SlaState.OVERDUE
    if working_days_between(now, due_at - _MICROSECOND) <= due_soon_working_days:
        return SlaState.DUE_SOON
    return SlaState.ON_TIME


@dataclass(frozen=True)
class Cursor:
    """A place in a column: after this (stage_entered_at, enrollment id)."""

    entered_at: datetime
    enrollment_id: int

    def __str__(self) -> str:
        return f"{(self.entered_at - _EPOCH) // _MICROSECOND}.{self.enrollment_id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor written by `str()`; None for anything else (a broken link starts over)."""
        micros, _, ident = (text or "").partition(".")
        if not (micros.isdigit() and ident.isdigit()) or len(micros) > 18 or len(ident) > 18:
            return None
        try:
            return cls(_EPOCH + int(micros) * _MICROSECOND, int(ident))
        except OverflowError:
            return None


@dataclass
class Card:
    enrollment_id: int
    startup_id: int
    startup_name: str
    country: str
    owner_id: int | None
    owner_name: str | None
    stage: str
    status: EnrollmentStatus
    stage_entered_at: datetime
    due_at: datetime | None
    revision: int
    programme_version_id: int

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.stage_entered_at, self.enrollment_id)

    @property
    def is_open(self) -> bool:
        return self.status == EnrollmentStatus.OPEN

    @property
    def due_by(self) -> datetime | None:
        """The last moment before the deadline (its date is the SLA's last working day)."""
        return self.due_at - _MICROSECOND if self.due_at else None

    def days_in_stage(self, now: datetime) -> int:
        return max(0, (now - self.stage_entered_at).days)

    def is_overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at is not None and self.due_at <= now


@dataclass
class Column:
    stage: StageDefinition
    count: int = 0
    overdue: int = 0
    cards: list[Card] = field(default_factory=list)
    next_cursor: Cursor | None = None  # set when the column has more cards than shown
    cap: int | None = COUNT_CAP  # counts stop here (None: exact)

    @property
    def count_capped(self) -> bool:
        """The count stopped at the cap: there are `cap` cards or more."""
        return self.cap is not None and self.count >= self.cap

    @property
    def overdue_capped(self) -> bool:
        return self.cap is not None and self.overdue >= self.cap


def active_programmes(db: Session) -> list[Programme]:
    return list(db.scalars(select(Programme).where(Programme.is_active).order_by(Programme.id)))


def _in_column(stage: StageDefinition) -> list:
    """Open enrollments in an active stage; closed ones in the closing stage they ended in."""
    if stage.closes_as:
        return [Enrollment.stage == stage.key, Enrollment.status == stage.closes_as]
    return [Enrollment.stage == stage.key, Enrollment.status == EnrollmentStatus.OPEN]


def _filter_conditions(programme: Programme, filters: StartupFilters,
                       user_id: int | None) -> tuple[list, bool]:
    """The conditions for this programme and filters, and whether they need `Startup` joined.

    Programme and stage come from the board itself, not from the filters. Country and owner
    are read from the enrollment's own copies of them, so that a board filtered by either
    walks that column's index (`ix_enrollments_country_column`, `…_owner_column`)."""
    conditions = [Enrollment.programme_id == programme.id,
                  *filters.country_and_owner(Enrollment.country, Enrollment.owner_id, user_id)]
    rest = filters.without("programme", "stage", "country", "owner")
    on_startup = rest.startup_conditions(user_id)
    return [*conditions, *on_startup, *rest.enrollment_conditions()], bool(on_startup)


@dataclass(frozen=True)
class _Query:
    """The board's conditions, and when all of them are on the enrollment (programme, country,
    owner, overdue: the common views), their shape: statements of one shape are built once,
    with bound parameters, and reused. Building and keying the board's two statements anew
    (18 subqueries) took about as long as running them."""

    conditions: list
    join_startup: bool
    params: dict
    shape: tuple | None  # None: built for this request alone


_OVERDUE = (Enrollment.status == EnrollmentStatus.OPEN, Enrollment.due_at <= bindparam("now"))


def _query(programme: Programme, filters: StartupFilters, user_id: int | None,
           now: datetime | None) -> _Query:
    rest = filters.without("programme", "stage", "country", "owner", "overdue")
    params = {"now": now}
    if now is None or rest.active:
        conditions, join_startup = _filter_conditions(programme, filters, user_id)
        return _Query(conditions, join_startup, params, None)
    conditions = [Enrollment.programme_id == bindparam("programme_id")]
    params["programme_id"] = programme.id
    if filters.country:
        conditions.append(Enrollment.country == bindparam("country"))
        params["country"] = filters.country
    owner = "" if not filters.owner else "none" if filters.owner == OWNER_NONE else "id"
    if owner == "none":
        conditions.append(Enrollment.owner_id.is_(None))
    elif owner == "id":
        conditions.append(Enrollment.owner_id == bindparam("owner_id"))
        params["owner_id"] = filters.owner_id(user_id)
    if filters.overdue:  # as `StartupFilters.enrollment_conditions`, at the board's `now`
        conditions.extend(_OVERDUE)
    return _Query(conditions, False, params, (bool(filters.country), owner, filters.overdue))


_STATEMENTS: dict[tuple, Any] = {}


def _statement(query: _Query, key: tuple, build: Callable[[], Any]):
    """`build()`, or the statement built before for this shape and key."""
    if query.shape is None:
        return build()
    key = (query.shape, *key)
    statement = _STATEMENTS.get(key)
    if statement is None:
        if len(_STATEMENTS) >= 1000:  # a bound on programme definitions × views
            _STATEMENTS.clear()
        statement = _STATEMENTS[key] = build()
    return statement


def _stages_key(stages) -> tuple:
    return tuple((stage.key, stage.closes_as) for stage in stages)


_ENROLLMENT_CARD_COLUMNS = (
    Enrollment.id, Enrollment.startup_id, Enrollment.stage, Enrollment.status,
    Enrollment.stage_entered_at, Enrollment.due_at, Enrollment.revision,
    Enrollment.programme_version_id,
)


def _with_startup(enrollments):
    """Cards: rows of `enrollments` (a subquery of the card's enrollment columns) with their
    startup and the startup's owner."""
    return (
        select(
            enrollments.c.id.label("enrollment_id"), enrollments.c.startup_id, Startup.name,
            Startup.country, Startup.owner_id, User.name.label("owner_name"),
            enrollments.c.stage, enrollments.c.status, enrollments.c.stage_entered_at,
            enrollments.c.due_at, enrollments.c.revision, enrollments.c.programme_version_id,
        )
        .join(Startup, Startup.id == enrollments.c.startup_id)
        .outerjoin(User, User.id == Startup.owner_id)
    )


def _column_select(conditions: list, join_startup: bool, stage: StageDefinition,
                   after: Cursor | None, limit: int):
    """At most `limit` enrollments of one column after `after`, longest waiting first (keyset
    on the column's index). Startups are joined only for filters on them: the cards' startup
    and owner are joined once outside (fewer joins for PostgreSQL to plan, arm by arm)."""
    query = select(*_ENROLLMENT_CARD_COLUMNS)
    if join_startup:
        query = query.join(Startup, Startup.id == Enrollment.startup_id)
    query = query.where(*conditions, *_in_column(stage))
    if after is not None:
        query = query.where(or_(
            Enrollment.stage_entered_at > after.entered_at,
            and_(Enrollment.stage_entered_at == after.entered_at,
                 Enrollment.id > after.enrollment_id),
        ))
    return query.order_by(Enrollment.stage_entered_at, Enrollment.id).limit(limit)


def _card(row) -> Card:
    return Card(
        enrollment_id=row.enrollment_id, startup_id=row.startup_id, startup_name=row.name,
        country=row.country, owner_id=row.owner_id, owner_name=row.owner_name, stage=row.stage,
        status=EnrollmentStatus(row.status), stage_entered_at=row.stage_entered_at,
        due_at=row.due_at, revision=row.revision,
        programme_version_id=row.programme_version_id,
    )


def _page(cards: list[Card], limit: int) -> tuple[list[Card], Cursor | None]:
    """The first `limit` of `limit + 1` fetched cards, and the cursor when there are more."""
    cards.sort(key=lambda card: (card.stage_entered_at, card.enrollment_id))
    if len(cards) > limit:
        return cards[:limit], cards[limit - 1].cursor
    return cards, None


def _capped_count(conditions: list, join_startup: bool, cap: int | None):
    """How many enrollments match, counting no further than `cap` (a LIMITed index range)."""
    query = select(Enrollment.id)
    if join_startup:
        query = query.join(Startup, Startup.id == Enrollment.startup_id)
    return select(func.count()).select_from(query.where(*conditions).limit(cap).subquery())


def stage_counts(db: Session, programme: Programme, definition: ProgrammeDefinition,
                 filters: StartupFilters | None = None, user_id: int | None = None, *,
                 now: datetime, cap: int | None = COUNT_CAP,
                 stage_keys: set[str] | None = None) -> dict[str, tuple[int, int]]:
    """Stage key -> (cards, overdue cards) under the filters, each counted up to `cap` (None:
    exact), of every stage or of `stage_keys`. One statement of per-column LIMITed counts, so
    a column's cost stops at `cap` index entries however many enrollments the programme has
    had (closed ones pile up in the closing stages)."""
    query = _query(programme, filters or StartupFilters(), user_id, now)
    stages = [stage for stage in definition.stages
              if stage_keys is None or stage.key in stage_keys]
    keys = [(stage.key, kind) for stage in stages
            for kind in ((0,) if stage.closes_as else (0, 1))]
    if not keys:
        return {}

    def build():
        arms = []
        for stage in stages:
            in_column = [*query.conditions, *_in_column(stage)]
            arms.append(_capped_count(in_column, query.join_startup, cap))
            if not stage.closes_as:
                arms.append(_capped_count([*in_column, *_OVERDUE], query.join_startup, cap))
        # Each arm is a scalar subquery; one SELECT of them all is a single round trip.
        return select(*(arm.scalar_subquery() for arm in arms))

    statement = _statement(query, ("counts", _stages_key(stages), cap), build)
    counts = db.execute(statement, query.params).one()
    found: dict[str, list[int]] = {}
    for (stage_key, kind), count in zip(keys, counts, strict=True):
        found.setdefault(stage_key, [0, 0])[kind] = count
    return {stage_key: (count, overdue_count)
            for stage_key, (count, overdue_count) in found.items() if count}


def board(db: Session, programme: Programme, definition: ProgrammeDefinition,
          filters: StartupFilters | None = None, user_id: int | None = None, *,
          now: datetime, per_column: int = CARDS_PER_COLUMN) -> list[Column]:
    """Every stage's count, overdue count and first cards: two queries, however many stages."""
    filters = filters or StartupFilters()
    columns = {stage.key: Column(stage) for stage in definition.stages}
    for stage_key, (count, overdue) in stage_counts(db, programme, definition, filters, user_id,
                                                    now=now).items():
        columns[stage_key].count, columns[stage_key].overdue = count, overdue
    query = _query(programme, filters, user_id, now)
    shown = [column.stage for column in columns.values() if column.count]
    if not shown:
        return list(columns.values())

    def build():
        # One arm per non-empty column, each an index-ordered LIMIT, in a single statement.
        arms = [select(_column_select(query.conditions, query.join_startup, stage, None,
                                      per_column + 1).subquery()) for stage in shown]
        return _with_startup((union_all(*arms) if len(arms) > 1 else arms[0]).subquery())

    statement = _statement(query, ("cards", _stages_key(shown), per_column), build)
    fetched: dict[str, list[Card]] = {}
    for row in db.execute(statement, query.params):
        fetched.setdefault(row.stage, []).append(_card(row))
    for stage_key, cards in fetched.items():
        column = columns[stage_key]
        column.cards, column.next_cursor = _page(cards, per_column)
    return list(columns.values())


def column_cards(db: Session, programme: Programme, stage: StageDefinition,
                 filters: StartupFilters | None = None, user_id: int | None = None, *,
                 after: Cursor | None = None,
                 per_page: int = CARDS_PER_COLUMN) -> tuple[list[Card], Cursor | None]:
    """The next cards of one column after `after`, and the cursor of the page after them."""
    conditions, join_startup = _filter_conditions(programme, filters or StartupFilters(),
                                                  user_id)
    picked = _column_select(conditions, join_startup, stage, after, per_page + 1).subquery()
    rows = db.execute(_with_startup(picked))
    return _page([_card(row) for row in rows], per_page)


def card(db: Session, enrollment_id: int) -> Card | None:
    """One enrollment as a card (to show it where it landed after a move)."""
    one = select(*_ENROLLMENT_CARD_COLUMNS).where(Enrollment.id == enrollment_id).subquery()
    row = db.execute(_with_startup(one)).first()
    return _card(row) if row is not None else None


def definitions(db: Session, version_ids: set[int]) -> dict[int, ProgrammeDefinition]:
    """The definitions of these programme versions (the cards' own, for their moves)."""
    if not version_ids:
        return {}
    return {version.id: version.parsed for version in db.scalars(
        select(ProgrammeVersion).where(ProgrammeVersion.id.in_(version_ids)))}


@dataclass
class FilterChoices:
    owners: list[tuple[int, str]] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def filter_choices(db: Session) -> FilterChoices:
    """What the filter form offers: staff who may own startups, and the values in use (as
    the list's filters find them: skipping through their indexes)."""
    owners = [(user_id, name) for user_id, name in db.execute(
        select(User.id, User.name).where(User.is_active, User.role != Role.VIEWER)
        .order_by(User.name, User.id))]
    values = values_in_use(db)
    return FilterChoices(owners, values["country"], values["sector"], values["tag"],
                         values["event"])


# Programme administration ------------------------------------------------------------------


@dataclass
class VersionRow:
    version: ProgrammeVersion
    loaded_by: str | None  # the admin's name; None when loaded by `crm programmes load`
    open_enrollments: int


def all_programmes(db: Session) -> list[Programme]:
    return list(db.scalars(select(Programme).order_by(Programme.is_active.desc(),
                                                      Programme.id)))


def open_enrollments_per_version(db: Session) -> dict[int, dict[int, int]]:
    """Programme id -> {version number: open enrollments}, for every programme in one query."""
    rows = db.execute(
        select(ProgrammeVersion.programme_id, ProgrammeVersion.number, func.count())
        .join(Enrollment, Enrollment.programme_version_id == ProgrammeVersion.id)
        .where(Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(ProgrammeVersion.programme_id, ProgrammeVersion.number)
    ).all()
    counts: dict[int, dict[int, int]] = {}
    for programme_id, number, count in rows:
        counts.setdefault(programme_id, {})[number] = count
    return {programme_id: dict(sorted(per_version.items()))
            for programme_id, per_version in counts.items()}


def programme_versions(db: Session, programme_id: int) -> list[VersionRow]:
    """The programme's versions, newest first, with who loaded them and their open enrollments."""
    open_counts = (
        select(Enrollment.programme_version_id, func.count().label("open_enrollments"))
        .where(Enrollment.programme_id == programme_id,
               Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Enrollment.programme_version_id)
        .subquery()
    )
    rows = db.execute(
        select(ProgrammeVersion, User.name,
               func.coalesce(open_counts.c.open_enrollments, 0))
        .outerjoin(User, User.id == ProgrammeVersion.created_by_id)
        .outerjoin(open_counts, open_counts.c.programme_version_id == ProgrammeVersion.id)
        .where(ProgrammeVersion.programme_id == programme_id)
        .order_by(ProgrammeVersion.number.desc())
    ).all()
    return [VersionRow(version, name, count) for version, name, count in rows]


def open_enrollments_per_stage(db: Session, version_id: int) -> dict[str, int]:
    """Stage key -> open enrollments on this version in that stage."""
    rows = db.execute(
        select(Enrollment.stage, func.count())
        .where(Enrollment.programme_version_id == version_id,
               Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Enrollment.stage)
    ).all()
    return dict(rows)
