"""The startups list: filters and sort from the URL, keyset pages, a capped count, row details.

Every sort is a keyset over (sort columns..., id): the `after` cursor carries the last row's
values, so page 200 costs what page 1 costs and a row is never shown twice or skipped when
names repeat. The owner sort groups by owner (their id; unassigned last ascending), so it
walks the (owner_id, name) index instead of sorting every row by a joined name.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Role
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.filters import StartupFilters
from crm.startups.models import Startup, StartupSector, StartupTag
from crm.users.models import User
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.models import Enrollment

PAGE_SIZE = 50
COUNT_CAP = 10_000
# A programme+country view with at most this many startups picks its page from their
# enrollments and sorts them; with more it walks the list's order (see `list_startups`).
ROWS_FROM_ENROLLMENTS_MAX = 2_000
CHOICES_PER_FILTER = 300  # distinct values offered per filter; more can still be typed
QUERY_MAX = 2000  # SavedView.query, ExportJob.query

ASC, DESC = "asc", "desc"


@dataclass(frozen=True)
class Sort:
    key: str
    columns: tuple  # the ordering columns before the tie-breaking id
    types: tuple  # the Python type of each column's value in a cursor
    default_direction: str
    nullable_first_column: bool = False  # owner_id: NULL sorts last ascending


SORTS: dict[str, Sort] = {sort.key: sort for sort in (
    Sort("name", (Startup.name,), (str,), ASC),
    Sort("country", (Startup.country, Startup.name), (str, str), ASC),
    Sort("status", (Startup.status, Startup.name), (str, str), ASC),
    Sort("owner", (Startup.owner_id, Startup.name), (int, str), ASC, nullable_first_column=True),
    Sort("created", (Startup.created_at,), (datetime,), DESC),
    Sort("updated", (Startup.updated_at,), (datetime,), DESC),
)}
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class ListView:
    """What a list URL asks for, besides the page: the filters and the order."""

    filters: StartupFilters = field(default_factory=StartupFilters)
    sort: str = DEFAULT_SORT
    direction: str = ASC

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListView:
        sort = args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT
        direction = args.get("dir")
        if direction not in (ASC, DESC):
            direction = SORTS[sort].default_direction
        return cls(StartupFilters.from_args(args), sort, direction)

    @classmethod
    def from_query(cls, query: str) -> ListView:
        return cls.from_args(dict(parse_qsl(query or "")))

    def to_args(self) -> dict[str, str]:
        """Filters plus the order when it is not the default (the first page's URL args)."""
        args = self.filters.to_args()
        if self.sort != DEFAULT_SORT or self.direction != SORTS[self.sort].default_direction:
            args.update(sort=self.sort, dir=self.direction)
        return args

    def query_string(self) -> str:
        return urlencode(self.to_args())

    def sorted_by(self, key: str) -> dict[str, str]:
        """The args of this view ordered by `key` (the other direction if already so)."""
        direction = SORTS[key].default_direction
        if key == self.sort:
            direction = DESC if self.direction == ASC else ASC
        args = self.filters.to_args()
        if key != DEFAULT_SORT or direction != SORTS[key].default_direction:
            args.update(sort=key, dir=direction)
        return args

    @property
    def spec(self) -> Sort:
        return SORTS[self.sort]


# The cursor ------------------------------------------------------------------------------------


def cursor_values(view: ListView, startup: Startup) -> list[Any]:
    values: list[Any] = [getattr(startup, column.key) for column in view.spec.columns]
    return [*values, startup.id]


def encode_cursor(view: ListView, startup: Startup) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else
              value.value if hasattr(value, "value") else value
              for value in cursor_values(view, startup)]
    raw = json.dumps([view.sort, view.direction, *values], separators=(",", ":"),
                     ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(view: ListView, cursor: str | None) -> list[Any] | None:
    """The sort values and id a cursor carries, or None (start at the first page) if it is
    malformed or was made for another order."""
    if not cursor or len(cursor) > 2000:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    spec = view.spec
    if (not isinstance(data, list) or len(data) != len(spec.columns) + 3
            or data[:2] != [view.sort, view.direction]):
        return None
    *values, last_id = data[2:]
    if type(last_id) is not int:
        return None
    parsed: list[Any] = []
    for index, (python_type, value) in enumerate(zip(spec.types, values, strict=True)):
        if value is None and index == 0 and spec.nullable_first_column:
            parsed.append(None)
        elif python_type is datetime and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            if moment.tzinfo is None:
                return None
            parsed.append(moment)
        elif python_type in (int, str) and type(value) is python_type:
            parsed.append(value)
        else:
            return None
    return [*parsed, last_id]


def order_for(view: ListView) -> list[ColumnElement[Any]]:
    spec = view.spec
    columns = [*spec.columns, Startup.id]
    if view.direction == ASC:
        order = [column.asc() for column in columns]
        if spec.nullable_first_column:
            order[0] = columns[0].asc().nulls_last()
    else:
        order = [column.desc() for column in columns]
        if spec.nullable_first_column:
            order[0] = columns[0].desc().nulls_first()
    return order


def after_cursor(view: ListView, values: list[Any]) -> ColumnElement[bool]:
    """Rows after the cursor in the view's order: a row comparison the index can seek to."""
    spec = view.spec
    columns = [*spec.columns, Startup.id]

    def beyond(cols: Sequence, vals: Sequence) -> ColumnElement[bool]:
        left = tuple_(*cols)
        right = tuple_(*(literal(value, column.type) for column, value in zip(cols, vals,
                                                                            strict=True)))
        return left > right if view.direction == ASC else left < right

    if not spec.nullable_first_column:
        return beyond(columns, values)
    first, rest, first_value, rest_values = columns[0], columns[1:], values[0], values[1:]
    if view.direction == ASC:  # NULLs come last
        if first_value is None:
            return and_(first.is_(None), beyond(rest, rest_values))
        return or_(beyond(columns, values), first.is_(None))
    # descending: NULLs come first
    if first_value is None:
        return or_(and_(first.is_(None), beyond(rest, rest_values)), first.is_not(None))
    return beyond(columns, values)


# The page --------------------------------------------------------------------------------------


@dataclass
class StageBadge:
    programme_key: str
    programme_name: str
    stage_key: str
    stage_label: str
    overdue: bool


@dataclass
class StartupRow:
    startup: Startup
    owner_name: str | None
    stages: list[StageBadge] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return any(badge.overdue for badge in self.stages)


@dataclass
class StartupPage:
    rows: list[StartupRow]
    next_cursor: str | None
    total: int
    total_capped: bool


def list_startups(db: Session, view: ListView, current_user_id: int | None, *,
                  after: str | None = None, page_size: int | None = None, locale: str = "en",
                  definitions: Mapping[int, ProgrammeDefinition] | None = None) -> StartupPage:
    """One page of the view after the cursor, with a count capped at COUNT_CAP.

    Three queries (the count, rows with owner names, the rows' open enrollments) and a fourth
    only when an enrollment is on a programme version not in `definitions`.

    Walking the list's order and testing each row finds the page quickly when matches are
    many and spread, but reads most of the table for a rare name, or for names that all sort
    late ("Quanta…"). PostgreSQL starts from its trigram index when that pays; SQLite has
    none, so there a search whose count stopped short of the cap picks its matches first from
    the narrow search_text index (`id IN (…)`) and orders only those. (PostgreSQL would
    flatten that `IN` into the same walk, so it keeps its own plan.)"""
    page_size = page_size or PAGE_SIZE
    conditions = view.filters.conditions(current_user_id)
    if view.filters.narrows_by_enrollment:
        # Counted from the enrollments (a programme's in one country), not by probing every
        # startup of the country; the rows too, unless they are many (then walking the
        # list's order finds a page sooner than sorting them all).
        narrow = view.filters.conditions(current_user_id, from_enrollments=True)
        total, capped = capped_count(db, narrow)
        if total <= ROWS_FROM_ENROLLMENTS_MAX:
            conditions = narrow
    else:
        total, capped = capped_count(db, conditions)
    if view.filters.search and not capped and db.get_bind().dialect.name == "sqlite":
        conditions = [Startup.id.in_(select(Startup.id).where(*conditions).correlate(None))]
    query = (
        select(Startup, User.name)
        .outerjoin(User, User.id == Startup.owner_id)
        .options(defer(Startup.description, raiseload=True),
                 defer(Startup.search_text, raiseload=True))
        .where(*conditions)
        .order_by(*order_for(view))
        .limit(page_size + 1)
    )
    start = decode_cursor(view, after)
    if start is not None:
        query = query.where(after_cursor(view, start))
    found = db.execute(query).all()
    rows = [StartupRow(startup, owner_name) for startup, owner_name in found[:page_size]]
    next_cursor = encode_cursor(view, rows[-1].startup) if len(found) > page_size else None
    attach_stages(db, rows, locale, definitions or {})
    return StartupPage(rows, next_cursor, total, capped)


def capped_count(db: Session, conditions: Iterable[ColumnElement[Any]],
                 cap: int | None = None) -> tuple[int, bool]:
    """How many startups match, counting no further than `cap` (default COUNT_CAP), and
    whether it stopped there: a LIMITed scan, so it stays cheap at 100,000 rows."""
    cap = cap or COUNT_CAP
    capped = select(Startup.id).where(*conditions).limit(cap + 1).subquery()
    total = db.scalar(select(func.count()).select_from(capped)) or 0
    return min(total, cap), total > cap


def attach_stages(db: Session, rows: list[StartupRow], locale: str,
                  definitions: Mapping[int, ProgrammeDefinition]) -> None:
    """Each row's open enrollments as programme + stage label: one query for all rows (and one
    more for definitions of programme versions not given)."""
    by_id = {row.startup.id: row for row in rows}
    if not by_id:
        return
    found = db.execute(
        select(Enrollment.startup_id, Enrollment.stage, Enrollment.due_at,
               Enrollment.programme_version_id, Programme.key, Programme.name_en,
               Programme.name_de)
        .join(Programme, Programme.id == Enrollment.programme_id)
        .where(Enrollment.startup_id.in_(by_id), Enrollment.status == EnrollmentStatus.OPEN)
        .order_by(Enrollment.startup_id, Programme.name_en, Enrollment.id)
    ).all()
    known = dict(definitions)
    missing = {row.programme_version_id for row in found} - set(known)
    if missing:
        for version in db.scalars(select(ProgrammeVersion)
                                  .where(ProgrammeVersion.id.in_(missing))):
            known[version.id] = version.parsed
    now = utcnow()
    for item in found:
        definition = known.get(item.programme_version_id)
        declared = (next((s for s in definition.stages if s.key == item.stage), None)
                    if definition else None)
        by_id[item.startup_id].stages.append(StageBadge(
            item.key, item.name_de if locale == "de" else item.name_en, item.stage,
            declared.label(locale) if declared else item.stage,
            item.due_at is not None and item.due_at <= now))


# The filter form's choices ---------------------------------------------------------------------


@dataclass
class ProgrammeChoice:
    programme: Programme
    definition: ProgrammeDefinition
    version_id: int


@dataclass
class ListOptions:
    programmes: list[ProgrammeChoice]
    countries: list[str]
    sectors: list[str]
    tags: list[str]
    events: list[str]
    owners: list[User]  # staff who may own startups, and anyone who owns one

    @property
    def definitions(self) -> dict[int, ProgrammeDefinition]:
        return {choice.version_id: choice.definition for choice in self.programmes}


def list_options(db: Session) -> ListOptions:
    """What the filter selects offer, in three queries whatever the number of startups."""
    programmes = [
        ProgrammeChoice(programme, version.parsed, version.id)
        for programme, version in db.execute(
            select(Programme, ProgrammeVersion)
            .join(ProgrammeVersion, and_(ProgrammeVersion.programme_id == Programme.id,
                                         ProgrammeVersion.number == Programme.current_version))
            .where(Programme.is_active)
            .order_by(Programme.name_en))
    ]
    values = values_in_use(db)
    # An owner who is a viewer now still owns startups: an index probe per such user.
    owns_some = exists().where(Startup.owner_id == User.id)
    owners = list(db.scalars(
        select(User).where(or_(User.role != Role.VIEWER, owns_some))
        .order_by(User.is_active.desc(), User.name, User.id)))
    return ListOptions(programmes, values["country"], values["sector"], values["tag"],
                       values["event"], owners)


def values_in_use(db: Session) -> dict[str, list[str]]:
    """The countries, sectors, tags and events (source details) startups have, each sorted
    and at most CHOICES_PER_FILTER: one query."""
    values: dict[str, list[str]] = {"country": [], "sector": [], "tag": [], "event": []}
    present = union_all(
        _distinct_values("country", Startup.country),
        _distinct_values("sector", StartupSector.sector),
        _distinct_values("tag", StartupTag.tag),
        _distinct_values("event", Startup.source_detail),
    ).subquery()
    for row_kind, row_value in db.execute(select(present.c.kind, present.c.value)).all():
        values[row_kind].append(row_value)
    return {kind: sorted(found, key=str.casefold) for kind, found in values.items()}


def _distinct_values(kind: str, column) -> Select:
    """The column's first distinct non-empty values by skipping through its index (a
    recursive "next value after this one", cut at CHOICES_PER_FILTER), so 100,000 rows with
    40 countries cost 40 index probes."""
    table = column.table
    steps = select(func.min(column).label("value")).where(column > "").cte(
        name=f"{kind}_values", recursive=True)
    following = select(func.min(column)).select_from(table).where(
        column > steps.c.value).scalar_subquery()
    steps = steps.union_all(select(following).where(steps.c.value.is_not(None)))
    return select(select(literal(kind).label("kind"), steps.c.value.label("value"))
                  .where(steps.c.value.is_not(None)).limit(CHOICES_PER_FILTER).subquery())

