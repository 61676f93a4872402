"""What reminders are owed now: one query per kind (an anti-join on the reminders already
written), and each new one inserted once under its unique key."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    exists,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.core.enums import ApplicationStatus, EnrollmentStatus, ReminderKind, Role
from crm.core.types import UTCDateTime
from crm.db import insert_skipping_duplicates
from crm.intake.drafts import closed_reason, intake_of
from crm.intake.models import Application
from crm.programmes.models import Programme, ProgrammeVersion
from crm.reminders.models import Reminder
from crm.startups.models import Startup
from crm.users.models import User
from crm.workflow.calendar import is_working_day
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment

#: Idle drafts are nudged from the first to the second moment: a draft left alone for longer
#: (or a reminder missed while the sweep was down for weeks) gets no belated nudge.
NUDGE_WINDOWS = {
    ReminderKind.APPLICATION_NUDGE_3: (timedelta(days=3), timedelta(days=7)),
    ReminderKind.APPLICATION_NUDGE_7: (timedelta(days=7), timedelta(days=14)),
}
EXPIRY_NOTICE = timedelta(days=60)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Owed:
    """A reminder row about to be inserted."""

    kind: ReminderKind
    dedupe_key: str
    occurrence_at: datetime
    user_id: int | None = None
    enrollment_id: int | None = None
    application_id: int | None = None
    checklist_item_id: int | None = None


def owed_reminders(db: Session, now: datetime, zone: ZoneInfo) -> list[Owed]:
    """Every reminder due by now that has not been written yet, of every kind."""
    stages = StageReminders.load(db)
    return [*_sla_due_soon(db, now, zone, stages), *_sla_overdue(db, now),
            *_sla_escalations(db, now, zone, stages), *_application_nudges(db, now),
            *_checklist_expiring(db, now)]


BACKLOG = 1_000  # reminders inserted at once that make the statistics stale


def insert_once(db: Session, owed: list[Owed], now: datetime) -> Counter[ReminderKind]:
    """Insert the reminders; a key already there (a concurrent sweep's) is skipped silently.

    Returns how many of each kind this call inserted: only these are new."""
    if not owed:
        return Counter()
    if db.get_bind().dialect.name == "postgresql":
        inserted = db.connection().execute(_insert_unnested(owed, now))
    else:
        # One statement executed for many rows: SQLAlchemy sends them in a few multi-row
        # batches (SQLite parses their text at C speed).
        inserted = db.connection().execute(
            insert_skipping_duplicates(db, Reminder).returning(Reminder.kind),
            # vars(), not asdict(): the values are flat, and asdict deep-copies each of them.
            [{**vars(reminder), "created_at": now} for reminder in owed])
    created = Counter(ReminderKind(kind) for kind in inserted.scalars())
    if created.total() >= BACKLOG and db.get_bind().dialect.name == "postgresql":
        # A backlog (the first sweep, or after an outage) changes the table at once: the next
        # sweep's NOT EXISTS probes would be planned on statistics of an almost empty table
        # (a merge over every reminder, seconds) if it came before autovacuum's analysis.
        db.execute(text("ANALYZE reminders"))
    return created


_OWED_COLUMNS = {"dedupe_key": String, "kind": String, "user_id": Integer,
                 "enrollment_id": Integer, "application_id": Integer,
                 "checklist_item_id": Integer, "occurrence_at": DateTime(timezone=True)}


def _insert_unnested(owed: list[Owed], now: datetime):
    """`INSERT … SELECT … FROM unnest(<one array per column>) ON CONFLICT DO NOTHING
    RETURNING kind` (PostgreSQL): seven parameters however many rows. Multi-row VALUES with
    eight parameters a row made psycopg split 10,000 rows' worth of statement text in Python
    (1 s for the first sweep's 9,500 reminders; the database took 0.3 s)."""
    arrays = [bindparam(column, [_plain(getattr(reminder, column)) for reminder in owed],
                        type_=ARRAY(type_)) for column, type_ in _OWED_COLUMNS.items()]
    rows = func.unnest(*arrays).table_valued(*_OWED_COLUMNS).render_derived()
    return (postgresql.insert(Reminder)
            .from_select([*_OWED_COLUMNS, "created_at"],
                         select(*rows.c, literal(now, UTCDateTime())))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Reminder.kind))


def _plain(value):
    return value.value if isinstance(value, ReminderKind) else value


# Moments in working days ------------------------------------------------------------------


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def due_soon_horizon(now: datetime, working_days: int, zone: ZoneInfo) -> datetime:
    """The latest due moment that is "due soon" now: `due_at <= horizon` exactly when at most
    `working_days` working days are left after today (as `sla_state` counts on the board)."""
    day = now.astimezone(zone).date()
    for _ in range(working_days + 1):
        day += _ONE_DAY
        while not is_working_day(day):
            day += _ONE_DAY
    return _local_midnight(day, zone)


def escalation_threshold(now: datetime, working_days: int, zone: ZoneInfo) -> datetime:
    """The latest due moment that is `working_days` working days overdue now: `due_at <=
    threshold` exactly when `working_days_between(due_at - 1µs, now) >= working_days`."""
    if working_days == 0:
        return now
    day = now.astimezone(zone).date()
    counted = 0
    while True:
        if is_working_day(day):
            counted += 1
            if counted == working_days:
                return _local_midnight(day, zone)
        day -= _ONE_DAY


# SLA reminders ----------------------------------------------------------------------------

StagePairs = dict[int, list[tuple[int, str]]]  # working days -> [(version id, stage key)]


@dataclass
class StageReminders:
    """The stages with an SLA of every programme version, grouped by their reminder days."""

    due_soon: StagePairs = field(default_factory=lambda: defaultdict(list))
    escalate: StagePairs = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, db: Session) -> StageReminders:
        stages = cls()
        for version in db.scalars(select(ProgrammeVersion)
                                  .options(defer(ProgrammeVersion.source_text))):
            definition = version.parsed
            for stage in definition.active_stages():
                if stage.sla_working_days:
                    days = definition.reminders_for(stage.key)
                    pair = (version.id, stage.key)
                    stages.due_soon[days.due_soon_working_days].append(pair)
                    stages.escalate[days.escalate_after_working_days].append(pair)
        return stages


def _not_reminded(kind: ReminderKind, *same):
    return ~exists().where(Reminder.kind == kind, *same)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _to_owners(db: Session, kind: ReminderKind, *window) -> list[Owed]:
    """Open enrollments in `window` whose startup has an active owner not yet reminded of this
    stage entry."""
    rows = db.execute(
        select(Enrollment.id, Enrollment.stage_entered_at, Startup.owner_id)
        .join(Startup, Startup.id == Enrollment.startup_id)
        .join(User, User.id == Startup.owner_id)
        .where(Enrollment.status == EnrollmentStatus.OPEN, User.is_active, *window,
               Startup.restricted_at.is_(None),  # GDPR Art. 18: not processed
               _not_reminded(kind, Reminder.enrollment_id == Enrollment.id,
                             Reminder.occurrence_at == Enrollment.stage_entered_at,
                             Reminder.user_id == Startup.owner_id)))
    return [Owed(kind, f"{kind}:enrollment:{enrollment_id}:{_iso(entered)}:user:{owner_id}",
                 entered, user_id=owner_id, enrollment_id=enrollment_id)
            for enrollment_id, entered, owner_id in rows]


def _in_stages(pairs: list[tuple[int, str]]):
    return tuple_(Enrollment.programme_version_id, Enrollment.stage).in_(pairs)


def _sla_due_soon(db: Session, now: datetime, zone: ZoneInfo,
                  stages: StageReminders) -> list[Owed]:
    owed: list[Owed] = []
    for days, pairs in stages.due_soon.items():
        owed += _to_owners(db, ReminderKind.SLA_DUE_SOON, Enrollment.due_at > now,
                           Enrollment.due_at <= due_soon_horizon(now, days, zone),
                           _in_stages(pairs))
    return owed


def _sla_overdue(db: Session, now: datetime) -> list[Owed]:
    return _to_owners(db, ReminderKind.SLA_OVERDUE, Enrollment.due_at <= now)


def _sla_escalations(db: Session, now: datetime, zone: ZoneInfo,
                     stages: StageReminders) -> list[Owed]:
    """Each active manager, once per stage entry that is the stage's escalation delay overdue."""
    kind = ReminderKind.SLA_ESCALATION
    owed: list[Owed] = []
    for days, pairs in stages.escalate.items():
        rows = db.execute(
            select(Enrollment.id, Enrollment.stage_entered_at, User.id)
            .join(User, (User.role == Role.MANAGER) & User.is_active)
            .join(Startup, Startup.id == Enrollment.startup_id)
            .where(Enrollment.status == EnrollmentStatus.OPEN, Startup.restricted_at.is_(None),
                   Enrollment.due_at <= escalation_threshold(now, days, zone),
                   _in_stages(pairs),
                   _not_reminded(kind, Reminder.enrollment_id == Enrollment.id,
                                 Reminder.occurrence_at == Enrollment.stage_entered_at,
                                 Reminder.user_id == User.id)))
        owed += [Owed(kind, f"{kind}:enrollment:{enrollment_id}:{_iso(entered)}:user:{user_id}",
                      entered, user_id=user_id, enrollment_id=enrollment_id)
                 for enrollment_id, entered, user_id in rows]
    return owed


# Applicants and checklists ----------------------------------------------------------------


def _application_nudges(db: Session, now: datetime) -> list[Owed]:
    """Drafts with an address idle for 3 (then 7) days since their last activity; a draft that
    was submitted or withdrawn is no draft any more."""
    owed: list[Owed] = []
    programmes: dict[int, bool] = {}  # id -> its form takes applications now
    for kind, (idle_from, idle_until) in NUDGE_WINDOWS.items():
        rows = db.execute(
            select(Application.id, Application.last_activity_at, Programme)
            .join(Programme, Programme.id == Application.programme_id)
            .where(Application.status == ApplicationStatus.DRAFT,
                   Application.last_activity_at <= now - idle_from,
                   Application.last_activity_at > now - idle_until,
                   Application.email.is_not(None), Application.email != "",
                   _not_reminded(kind, Reminder.application_id == Application.id,
                                 Reminder.occurrence_at == Application.last_activity_at)))
        for application_id, last_activity, programme in rows:
            if programme.id not in programmes:
                programmes[programme.id] = closed_reason(
                    programme, intake_of(db, programme), now) is None
            if programmes[programme.id]:
                owed.append(Owed(kind, f"{kind}:application:{application_id}:"
                                       f"{_iso(last_activity)}", last_activity,
                                 application_id=application_id))
    return owed


def _checklist_expiring(db: Session, now: datetime) -> list[Owed]:
    """Done items of open enrollments whose evidence (a permit, a visa) expires within 60 days,
    to the owner; a renewed expiry is a new occurrence."""
    kind = ReminderKind.CHECKLIST_EXPIRING
    rows = db.execute(
        select(ChecklistItem.id, ChecklistItem.expires_at, Enrollment.id, Startup.owner_id)
        .join(Enrollment, Enrollment.id == ChecklistItem.enrollment_id)
        .join(Startup, Startup.id == Enrollment.startup_id)
        .join(User, User.id == Startup.owner_id)
        .where(ChecklistItem.status == ChecklistStatus.DONE, ChecklistItem.expires_at > now,
               ChecklistItem.expires_at <= now + EXPIRY_NOTICE,
               Enrollment.status == EnrollmentStatus.OPEN, User.is_active,
               Startup.restricted_at.is_(None),
               _not_reminded(kind, Reminder.checklist_item_id == ChecklistItem.id,
                             Reminder.occurrence_at == ChecklistItem.expires_at,
                             Reminder.user_id == Startup.owner_id)))
    return [Owed(kind, f"{kind}:item:{item_id}:{_iso(expires)}:user:{owner_id}", expires,
                 user_id=owner_id, enrollment_id=enrollment_id, checklist_item_id=item_id)
            for item_id, expires, enrollment_id, owner_id in rows]
