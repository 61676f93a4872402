"""The pipeline's figures as aggregate SQL, scoped by programme and owner, for a period.

Every function runs a fixed number of queries whatever the amount of data and however many
programmes there are, groups in SQL and returns small frozen dataclasses keyed by programme id
and stage key; labels come from `programmes()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, union_all
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, Role
from crm.programmes.models import Programme, ProgrammeVersion
from crm.reports.periods import Period
from crm.startups.models import Startup, StartupSector, Task
from crm.users.models import User
from crm.workflow import analytics
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.models import Enrollment, StageEvent

# Scope ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which part of the pipeline a figure covers: one programme or all, one owner's or all."""

    programme_id: int | None = None
    owner_id: int | None = None  # only startups this user owns

    def enrollments(self) -> list[ColumnElement[bool]]:
        """Conditions on Enrollment."""
        conditions = []
        if self.programme_id is not None:
            conditions.append(Enrollment.programme_id == self.programme_id)
        if self.owner_id is not None:
            conditions.append(Enrollment.startup_id.in_(
                select(Startup.id).where(Startup.owner_id == self.owner_id)))
        return conditions

    def startups(self) -> list[ColumnElement[bool]]:
        """Conditions on Startup: owned, and enrolled (ever) in the programme."""
        conditions = []
        if self.owner_id is not None:
            conditions.append(Startup.owner_id == self.owner_id)
        if self.programme_id is not None:
            conditions.append(exists().where(Enrollment.startup_id == Startup.id,
                                             Enrollment.programme_id == self.programme_id))
        return conditions

    def tasks(self) -> list[ColumnElement[bool]]:
        """Conditions on Task: of an enrollment in the programme; assigned to the owner or about
        a startup they own."""
        conditions = []
        if self.programme_id is not None:
            conditions.append(Task.enrollment_id.in_(
                select(Enrollment.id).where(Enrollment.programme_id == self.programme_id)))
        if self.owner_id is not None:
            conditions.append(or_(Task.assignee_id == self.owner_id, Task.startup_id.in_(
                select(Startup.id).where(Startup.owner_id == self.owner_id))))
        return conditions


def scope_for(user: User, programme_id: int | None = None) -> Scope:
    """Managers, admins and viewers see every startup; a BD manager the startups they own."""
    return Scope(programme_id, user.id if user.has_role(Role.BD_MANAGER) else None)


# Programmes and their stages --------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeStages:
    """A programme with its current definition: names, stage order and labels."""

    programme_id: int
    key: str
    name_en: str
    name_de: str
    definition: ProgrammeDefinition

    def name(self, locale: str) -> str:
        return self.name_de if locale == "de" else self.name_en

    def stage_label(self, stage_key: str, locale: str) -> str:
        """The stage's label; a key the current version no longer has stays a key."""
        found = next((s for s in self.definition.stages if s.key == stage_key), None)
        return found.label(locale) if found else stage_key

    @property
    def funnel_stages(self) -> list[str]:
        """The active stages in order, then the stage that lands."""
        landing = self.definition.closing_stage(EnrollmentStatus.LANDED)
        return [s.key for s in self.definition.active_stages()] + ([landing.key] if landing else [])


def programmes(db: Session, scope: Scope) -> list[ProgrammeStages]:
    """The programmes in scope that have a definition, in the order they were created."""
    query = (select(Programme.id, Programme.key, Programme.name_en, Programme.name_de,
                    ProgrammeVersion)
             .join(ProgrammeVersion, and_(ProgrammeVersion.programme_id == Programme.id,
                                          ProgrammeVersion.number == Programme.current_version))
             .order_by(Programme.id))
    if scope.programme_id is not None:
        query = query.where(Programme.id == scope.programme_id)
    return [ProgrammeStages(pid, key, name_en, name_de, version.parsed)
            for pid, key, name_en, name_de, version in db.execute(query).all()]


# Pipeline ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageCount:
    programme_id: int
    stage: str
    count: int


@dataclass(frozen=True)
class StageChange:
    programme_id: int
    stage: str
    count: int  # at the end of the period
    before: int  # at its start

    @property
    def change(self) -> int:
        return self.count - self.before


def _open_at(scope: Scope, at: datetime, moment: str):
    """Enrollments open just before `at`: (moment, programme_id, stage) rows, stage None for
    those enrolled after `at`.

    An enrollment's stage changes only with a stage event and `stage_entered_at` is its last
    one's time, so those not moved since `at` are read from the enrollment, and only the few
    moved since (an index range on occurred_at) look up their last event before `at` (an
    index lookup each).
    """
    label = literal(moment).label("moment")
    unmoved = select(label, Enrollment.programme_id, Enrollment.stage.label("stage")).where(
        Enrollment.status == EnrollmentStatus.OPEN, Enrollment.stage_entered_at < at,
        *scope.enrollments())
    stage_then = (select(StageEvent.to_stage)
                  .where(StageEvent.enrollment_id == Enrollment.id, StageEvent.occurred_at < at)
                  .order_by(StageEvent.occurred_at.desc(), StageEvent.id.desc())
                  .limit(1).scalar_subquery())
    moved = select(label, Enrollment.programme_id, stage_then.label("stage")).where(
        Enrollment.id.in_(select(StageEvent.enrollment_id).where(StageEvent.occurred_at >= at)),
        or_(Enrollment.closed_at.is_(None), Enrollment.closed_at >= at), *scope.enrollments())
    return unmoved, moved


def _pipelines(db: Session, scope: Scope, moments: dict[str, datetime]
               ) -> dict[str, dict[tuple[int, str], int]]:
    """The pipeline at each named moment, (programme id, stage) → count: one query."""
    both = union_all(*(arm for moment, at in moments.items()
                       for arm in _open_at(scope, at, moment))).subquery()
    moment, programme_id, stage = both.c
    found: dict[str, dict[tuple[int, str], int]] = {name: {} for name in moments}
    for name, pid, key, count in db.execute(
            select(moment, programme_id, stage, func.count())
            .group_by(moment, programme_id, stage)).all():
        # Not filtered in SQL: PostgreSQL would push the filter down and look each stage up
        # twice.
        if key is not None:
            found[name][(pid, key)] = count
    return found


def pipeline(db: Session, scope: Scope, at: datetime) -> list[StageCount]:
    """Enrollments open just before `at`, per programme and the stage they were in then."""
    counts = _pipelines(db, scope, {"at": at})["at"]
    return [StageCount(pid, stage, counts[pid, stage]) for pid, stage in sorted(counts)]


def pipeline_change(db: Session, scope: Scope, period: Period) -> list[StageChange]:
    """The pipeline at the end of the period beside the one at its start (one query)."""
    found = _pipelines(db, scope, {"end": period.end, "start": period.start})
    now, before = found["end"], found["start"]
    return [StageChange(pid, stage, now.get((pid, stage), 0), before.get((pid, stage), 0))
            for pid, stage in sorted(now.keys() | before.keys())]


# New leads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    key: str  # a country code, sector, LeadSource value or event name
    count: int


@dataclass(frozen=True)
class NewLeads:
    total: int
    by_country: tuple[Share, ...]
    by_sector: tuple[Share, ...]  # a startup counts once per sector it has
    by_source: tuple[Share, ...]
    by_event: tuple[Share, ...]  # source_detail, where one is given

    @property
    def is_empty(self) -> bool:
        return self.total == 0


def new_leads(db: Session, scope: Scope, period: Period) -> NewLeads:
    """Startups created in the period: how many, and by country, sector, source and event."""
    created = [Startup.created_at >= period.start, Startup.created_at < period.end,
               *scope.startups()]

    def per(kind: str, column, *, join=None, where=()):
        query = (select(literal(kind).label("kind"), column.label("key"), func.count())
                 .select_from(Startup))
        if join is not None:
            query = query.join(*join)
        return query.where(*created, *where).group_by(column)

    rows = db.execute(union_all(
        select(literal("total"), literal(""), func.count()).where(*created),
        per("country", Startup.country),
        per("sector", StartupSector.sector,
            join=(StartupSector, StartupSector.startup_id == Startup.id)),
        per("source", Startup.source),
        per("event", Startup.source_detail, where=[Startup.source_detail.is_not(None)]),
    )).all()
    shares: dict[str, list[Share]] = {"country": [], "sector": [], "source": [], "event": []}
    total = 0
    for kind, key, count in rows:
        if kind == "total":
            total = count
        else:
            shares[kind].append(Share(str(key), count))
    ordered = {kind: tuple(sorted(found, key=lambda s: (-s.count, s.key)))
               for kind, found in shares.items()}
    return NewLeads(total, ordered["country"], ordered["sector"], ordered["source"],
                    ordered["event"])


# Moves and landings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeCount:
    programme_id: int
    count: int


def stage_moves(db: Session, scope: Scope, period: Period) -> list[StageCount]:
    """Moves (not enrollments) in the period, per programme and the stage moved to."""
    rows = db.execute(
        select(Enrollment.programme_id, StageEvent.to_stage, func.count())
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .where(StageEvent.occurred_at >= period.start, StageEvent.occurred_at < period.end,
               StageEvent.from_stage.is_not(None), *scope.enrollments())
        .group_by(Enrollment.programme_id, StageEvent.to_stage)
        .order_by(Enrollment.programme_id, StageEvent.to_stage)
    ).all()
    return [StageCount(*row) for row in rows]


def _landed_in(period: Period) -> list[ColumnElement[bool]]:
    return [Enrollment.status == EnrollmentStatus.LANDED, Enrollment.closed_at >= period.start,
            Enrollment.closed_at < period.end]


def landings(db: Session, scope: Scope, period: Period) -> list[ProgrammeCount]:
    """Enrollments that landed in the period, per programme."""
    rows = db.execute(
        select(Enrollment.programme_id, func.count())
        .where(*_landed_in(period), *scope.enrollments())
        .group_by(Enrollment.programme_id).order_by(Enrollment.programme_id)
    ).all()
    return [ProgrammeCount(*row) for row in rows]


# Trend ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekCount:
    week: Period  # an ISO week, cut to the period asked for
    new_leads: int
    landings: int


def trend(db: Session, scope: Scope, period: Period) -> list[WeekCount]:
    """New leads and landings per ISO week of the period, weeks without any included.

    One query: each row's week is found by a CASE over the weeks' ends (exact across summer
    time changes on any database), both sources in one UNION ALL.
    """
    weeks = period.weeks()

    def week_number(column):
        return case(*((column < week.end, position) for position, week in enumerate(weeks)))

    def counted(kind: str, column, *conditions):
        bucket = week_number(column)
        return (select(literal(kind).label("kind"), bucket.label("week"), func.count())
                .where(column >= period.start, column < period.end, *conditions)
                .group_by(bucket))

    rows = db.execute(union_all(
        counted("lead", Startup.created_at, *scope.startups()),
        counted("landing", Enrollment.closed_at, Enrollment.status == EnrollmentStatus.LANDED,
                *scope.enrollments()),
    )).all()
    found = {(kind, position): count for kind, position, count in rows}
    return [WeekCount(week, found.get(("lead", i), 0), found.get(("landing", i), 0))
            for i, week in enumerate(weeks)]


# Funnel and time in stage -----------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    programme_id: int
    stage: str
    entered: int  # enrollments that entered this stage in the period
    converted: int | None  # of those, how many entered the next stage later (None: last)
    rate: float | None  # converted / entered; None for the last stage or when none entered


def funnel(db: Session, scope: Scope, period: Period,
           stages: list[ProgrammeStages] | None = None) -> list[FunnelStep]:
    """Per programme in scope, its active stages and the landing: entries and conversions.

    One query for the entries of every programme, one for the conversions of those with any
    (crm.workflow.analytics.stage_conversions), both counting events in the period only.
    """
    stages = programmes(db, scope) if stages is None else stages
    entered = dict(((pid, stage), count) for pid, stage, count in db.execute(
        select(Enrollment.programme_id, StageEvent.to_stage,
               func.count(StageEvent.enrollment_id.distinct()))
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .where(StageEvent.occurred_at >= period.start, StageEvent.occurred_at < period.end,
               *scope.enrollments())
        .group_by(Enrollment.programme_id, StageEvent.to_stage)
    ).all())
    measured = {programme.programme_id: programme.funnel_stages for programme in stages
                if any((programme.programme_id, key) in entered
                       for key in programme.funnel_stages)}
    conversions = analytics.stage_conversions(
        db, measured, since=period.start, until=period.end,
        where=scope.enrollments()) if measured else {}
    steps = []
    for programme in stages:
        keys = programme.funnel_stages
        converted = {c.from_stage: c for c in conversions.get(programme.programme_id, [])}
        for key in keys:
            pair = converted.get(key)
            is_last = key == keys[-1]
            steps.append(FunnelStep(
                programme.programme_id, key, entered.get((programme.programme_id, key), 0),
                None if is_last else (pair.converted if pair else 0),
                pair.rate if pair else None))
    return steps


@dataclass(frozen=True)
class StageDuration:
    programme_id: int
    stage: str
    stays: int  # stays in this stage that ended in the period
    median_seconds: int
    p90_seconds: int


def time_in_stage(db: Session, scope: Scope, period: Period,
                  stages: list[ProgrammeStages] | None = None) -> list[StageDuration]:
    """Median and 90th percentile of the stays that ended in the period, per programme stage,
    in the programme's stage order (stages no longer defined last); one query."""
    stages = programmes(db, scope) if stages is None else stages
    found = analytics.stage_durations_by_programme(
        db, [programme.programme_id for programme in stages], since=period.start,
        until=period.end, where=scope.enrollments()) if stages else {}
    durations = []
    for programme in stages:
        order = {key: position for position, key in enumerate(programme.definition.stage_keys())}
        for stats in sorted(found.get(programme.programme_id, []),
                            key=lambda s: (order.get(s.stage, len(order)), s.stage)):
            durations.append(StageDuration(programme.programme_id, stats.stage, stats.stays,
                                           stats.median_seconds, stats.p90_seconds))
    return durations
