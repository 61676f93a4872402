"""Stage analytics from the stage history, in SQL: stays, their durations, conversions."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from crm.core.types import UTCDateTime
from crm.workflow.models import Enrollment, StageEvent


@dataclass(frozen=True)
class StageStay:
    stage: str
    entered_at: datetime
    left_at: datetime | None  # None: the enrollment is still in this stage
    seconds: int  # up to `now` for the current stay


@dataclass(frozen=True)
class StageDurationStats:
    stage: str
    stays: int  # completed stays
    median_seconds: int
    p90_seconds: int


@dataclass(frozen=True)
class StageConversion:
    from_stage: str
    to_stage: str
    entered: int  # enrollments that entered from_stage
    converted: int  # of those, enrollments that entered to_stage after it
    rate: float | None  # None when none entered


class SecondsBetween(FunctionElement):
    """Seconds from the first timestamp to the second, as a number, on SQLite and PostgreSQL."""

    name = "seconds_between"
    type = Float()
    inherit_cache = True


@compiles(SecondsBetween)
def _seconds_between_epoch(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(SecondsBetween, "sqlite")
def _seconds_between_julianday(element, compiler, **kw) -> str:
    # SQLite stores the timestamps as UTC text; julianday() reads fractional seconds too.
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _whole_seconds(start, end) -> ColumnElement[int]:
    return cast(func.round(SecondsBetween(start, end)), BigInteger)


def _left_at():
    """When the stay that an event starts ended: the enrollment's next event, if any."""
    return func.lead(StageEvent.occurred_at, type_=UTCDateTime()).over(
        partition_by=StageEvent.enrollment_id,
        order_by=(StageEvent.occurred_at, StageEvent.id),
    )


def time_in_stages(db: Session, enrollment_id: int, now: datetime) -> list[StageStay]:
    """Every stay of one enrollment in order; the current stay is counted up to `now`."""
    stays = (
        select(
            StageEvent.id,
            StageEvent.to_stage.label("stage"),
            StageEvent.occurred_at.label("entered_at"),
            _left_at().label("left_at"),
        )
        .where(StageEvent.enrollment_id == enrollment_id)
        .subquery()
    )
    ended_at = func.coalesce(stays.c.left_at, literal(now, UTCDateTime()))
    rows = db.execute(
        select(
            stays.c.stage,
            stays.c.entered_at,
            stays.c.left_at,
            _whole_seconds(stays.c.entered_at, ended_at),
        ).order_by(stays.c.entered_at, stays.c.id)
    ).all()
    return [StageStay(*row) for row in rows]


def _nearest_rank(percent: int, count) -> ColumnElement[int]:
    """ceil(percent/100 * count) in integer arithmetic (no CEIL() in every SQLite build)."""
    return (count * percent + 99) // 100


def stage_durations(
    db: Session,
    programme_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[StageDurationStats]:
    """Count, median and 90th percentile of the completed stays per stage, by stage key.

    A stay is completed when a later event of the enrollment ended it; with `since`/`until`
    only stays that ended in [since, until) count. Stages without such stays are left out.
    Percentiles use the nearest-rank definition: with the n durations of a stage sorted
    ascending, the p-th percentile is the value at rank ceil(p/100 * n) (1-based), so the
    median of an even count is the lower middle value and no value is interpolated.
    `where` adds conditions on the enrollment (e.g. whose startup it is).
    """
    return stage_durations_by_programme(db, [programme_id], since=since, until=until,
                                        where=where).get(programme_id, [])


def stage_durations_by_programme(
    db: Session,
    programme_ids: Collection[int],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[int, list[StageDurationStats]]:
    """`stage_durations` of several programmes in one query, by programme id (a programme
    without completed stays is left out)."""
    # The event that ends a stay records it (from_stage, seconds_in_previous_stage, written by
    # the engine with every move), so the stays ended in a window are the events in it: an
    # index range on occurred_at, never whole histories.
    conditions = [Enrollment.programme_id.in_(programme_ids), StageEvent.from_stage.is_not(None),
                  *where]
    if since is not None:
        conditions.append(StageEvent.occurred_at >= since)
    if until is not None:
        conditions.append(StageEvent.occurred_at < until)
    completed = (
        select(Enrollment.programme_id,
               StageEvent.from_stage.label("stage"),
               StageEvent.seconds_in_previous_stage.label("seconds"))
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .where(*conditions)
        .subquery()
    )
    stay = (completed.c.programme_id, completed.c.stage)
    if db.get_bind().dialect.name != "postgresql":
        return _durations_sorted_here(db, select(*stay, completed.c.seconds))
    # Its ordered-set aggregate is the nearest-rank percentile (the first value whose position
    # reaches p·n), sorted per group: twice as fast as ranking in windows.
    query = select(*stay, func.count(),
                   *(func.percentile_disc(percent / 100).within_group(completed.c.seconds)
                     for percent in (50, 90))).group_by(*stay).order_by(*stay)
    found: dict[int, list[StageDurationStats]] = {}
    for programme_id, *stats in db.execute(query).all():
        found.setdefault(programme_id, []).append(StageDurationStats(*stats))
    return found


def _durations_sorted_here(db: Session, stays: Select) -> dict[int, list[StageDurationStats]]:
    """The same figures where the database has no percentile aggregate (SQLite): the stays'
    durations read in one unsorted pass, sorted per group here. Ranking 400,000 stays in
    window functions took SQLite 3.4 s; this takes about a tenth of it.

    An unknown duration (NULL) counts as a stay and ranks first, as it would in SQL."""
    durations: dict[tuple[int, str], list[int]] = {}
    unknown: dict[tuple[int, str], int] = {}
    # Through the connection, row by row: the session would fetch every row first (90 MB).
    for programme_id, stage, seconds in db.connection().execute(stays):
        group = (programme_id, stage)
        if seconds is None:
            unknown[group] = unknown.get(group, 0) + 1
            durations.setdefault(group, [])
        else:
            durations.setdefault(group, []).append(seconds)
    found: dict[int, list[StageDurationStats]] = {}
    for group in sorted(durations):
        known = sorted(durations[group])
        nulls = unknown.get(group, 0)
        count = nulls + len(known)

        def at(percent: int, known=known, nulls=nulls, count=count) -> int | None:
            position = _nearest_rank(percent, count)  # 1-based, NULLs first
            return known[position - nulls - 1] if position > nulls else None

        found.setdefault(group[0], []).append(StageDurationStats(group[1], count, at(50), at(90)))
    return found


def stage_conversion(
    db: Session,
    programme_id: int,
    stage_keys: list[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[StageConversion]:
    """For each pair of consecutive stages A → B: who entered A, and who of them entered B later.

    Entering a stage means an event with to_stage = that stage; "later" means after the
    enrollment's first entry into A, in the order of (occurred_at, id). With `since`/`until`
    only events that occurred in [since, until) count, for A and for B alike. `where` adds
    conditions on the enrollment.
    """
    return stage_conversions(db, {programme_id: stage_keys}, since=since, until=until,
                             where=where)[programme_id]


def stage_conversions(
    db: Session,
    funnels: Mapping[int, list[str]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[int, list[StageConversion]]:
    """`stage_conversion` of several programmes (programme id → its stage keys) in one query."""
    pairs = {programme_id: list(pairwise(keys)) for programme_id, keys in funnels.items()}
    if not any(pairs.values()):
        return {programme_id: [] for programme_id in funnels}
    in_window = [Enrollment.programme_id.in_(funnels), *where]
    if since is not None:
        in_window.append(StageEvent.occurred_at >= since)
    if until is not None:
        in_window.append(StageEvent.occurred_at < until)
    events = (
        select(
            StageEvent.enrollment_id,
            Enrollment.programme_id,
            StageEvent.to_stage,
            func.row_number()
            .over(
                partition_by=StageEvent.enrollment_id,
                order_by=(StageEvent.occurred_at, StageEvent.id),
            )
            .label("position"),
        )
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .where(*in_window)
        .subquery()
    )

    def position(stage: str):
        return case((events.c.to_stage == stage, events.c.position))

    # Per enrollment and stage: its first entry and its last entry.
    stages = sorted({stage for found in pairs.values() for pair in found for stage in pair})
    per_enrollment = (
        select(
            events.c.programme_id,
            *(func.min(position(stage)).label(f"first_{i}") for i, stage in enumerate(stages)),
            *(func.max(position(stage)).label(f"last_{i}") for i, stage in enumerate(stages)),
        )
        .group_by(events.c.enrollment_id, events.c.programme_id)
        .subquery()
    )
    column = {stage: i for i, stage in enumerate(stages)}
    counts = []
    for programme_id, found in pairs.items():
        in_programme = per_enrollment.c.programme_id == programme_id
        for a, b in found:
            first_a = per_enrollment.c[f"first_{column[a]}"]
            last_b = per_enrollment.c[f"last_{column[b]}"]
            counts.append(func.count(case((in_programme, first_a))))
            counts.append(func.count(case((and_(in_programme, last_b > first_a), 1))))
    values = iter(db.execute(select(*counts)).one())
    conversions: dict[int, list[StageConversion]] = {}
    for programme_id, found in pairs.items():
        conversions[programme_id] = []
        for a, b in found:
            entered, converted = next(values), next(values)
            conversions[programme_id].append(StageConversion(
                a, b, entered, converted, converted / entered if entered else None))
    return conversions
