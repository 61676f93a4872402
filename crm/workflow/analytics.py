"""Stage analytics from the stage history, in SQL: stays, their durations, conversions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import BigInteger, ColumnElement, Float, case, cast, func, literal, select
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
    # The event that ends a stay records it (from_stage, seconds_in_previous_stage, written by
    # the engine with every move), so the stays ended in a window are the events in it: an
    # index range on occurred_at, never whole histories.
    conditions = [Enrollment.programme_id == programme_id, StageEvent.from_stage.is_not(None),
                  *where]
    if since is not None:
        conditions.append(StageEvent.occurred_at >= since)
    if until is not None:
        conditions.append(StageEvent.occurred_at < until)
    completed = (
        select(StageEvent.from_stage.label("stage"),
               StageEvent.seconds_in_previous_stage.label("seconds"))
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .where(*conditions)
        .subquery()
    )
    ranked = select(
        completed.c.stage,
        completed.c.seconds,
        func.row_number()
        .over(partition_by=completed.c.stage, order_by=completed.c.seconds)
        .label("position"),
        func.count().over(partition_by=completed.c.stage).label("stays"),
    ).subquery()

    def value_at(percent: int):
        return func.max(
            case((ranked.c.position == _nearest_rank(percent, ranked.c.stays), ranked.c.seconds))
        )

    rows = db.execute(
        select(ranked.c.stage, func.max(ranked.c.stays), value_at(50), value_at(90))
        .group_by(ranked.c.stage)
        .order_by(ranked.c.stage)
    ).all()
    return [StageDurationStats(*row) for row in rows]


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
    pairs = list(pairwise(stage_keys))
    if not pairs:
        return []
    in_window = [Enrollment.programme_id == programme_id, *where]
    if since is not None:
        in_window.append(StageEvent.occurred_at >= since)
    if until is not None:
        in_window.append(StageEvent.occurred_at < until)
    events = (
        select(
            StageEvent.enrollment_id,
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

    # Per enrollment and pair: its first entry into A and its last entry into B.
    per_enrollment = (
        select(
            *(func.min(position(a)).label(f"first_a_{i}") for i, (a, _) in enumerate(pairs)),
            *(func.max(position(b)).label(f"last_b_{i}") for i, (_, b) in enumerate(pairs)),
        )
        .group_by(events.c.enrollment_id)
        .subquery()
    )
    counts = []
    for i in range(len(pairs)):
        first_a, last_b = per_enrollment.c[f"first_a_{i}"], per_enrollment.c[f"last_b_{i}"]
        counts.append(func.count(first_a))
        counts.append(func.count(case((last_b > first_a, 1))))
    row = db.execute(select(*counts)).one()
    return [
        StageConversion(a, b, entered, converted, converted / entered if entered else None)
        for (a, b), entered, converted in zip(pairs, row[0::2], row[1::2], strict=True)
    ]
