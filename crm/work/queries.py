"""Reads for My work and the task list: a fixed number of queries, whatever the amounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Startup, Task
from crm.startups.services import may_be_assigned, may_change_task
from crm.users.access import EDITOR_ROLES
from crm.users.models import User
from crm.workflow.calendar import add_working_days, working_days_between
from crm.workflow.models import Enrollment

BUCKET_LIMIT = 20  # tasks shown per group (the total too; all of them on the task list)
SLA_LIMIT = 50  # enrollments shown per list (past / near)
SLA_NEAR_WORKING_DAYS = 2
RECENT_DAYS = 14
RECENT_LIMIT = 10
TASK_LIST_LIMIT = 200
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass
class TaskLine:
    task: Task
    startup: Startup | None
    programme: Programme | None  # of the enrollment the task belongs to, if any
    assignee_name: str | None
    may_change: bool = False  # whether the viewer may tick it off, snooze or reassign it
    assignees: list[User] = field(default_factory=list)  # who it may be reassigned to

    @property
    def may_reassign(self) -> bool:
        """Whether someone other than its assignee may take it."""
        return any(user.id != self.task.assignee_id for user in self.assignees)

    def programme_name(self, locale: str) -> str | None:
        return self.programme.name(locale) if self.programme else None


@dataclass
class TaskGroup:
    key: str  # "overdue", "today", "week", "later"
    lines: list[TaskLine] = field(default_factory=list)
    total: int = 0

    @property
    def truncated(self) -> bool:
        return self.total > len(self.lines)


@dataclass
class DueEnrollment:
    enrollment: Enrollment
    startup_name: str
    programme: Programme
    stage_label: str
    working_days: int  # overdue by (past) or left until due (near); 0 = due today

    @property
    def startup_id(self) -> int:
        return self.enrollment.startup_id


@dataclass
class SlaLists:
    past: list[DueEnrollment]
    past_total: int
    near: list[DueEnrollment]
    near_total: int


@dataclass
class DayBounds:
    """The moments grouping is cut at, all aware UTC."""

    now: datetime
    tomorrow: datetime  # local midnight starting tomorrow
    next_week: datetime  # local midnight starting next Monday

    @classmethod
    def at(cls, now: datetime, zone: ZoneInfo) -> DayBounds:
        today = now.astimezone(zone).date()
        return cls(now, _midnight_before(today + timedelta(days=1), zone),
                   _midnight_before(today + timedelta(days=7 - today.weekday()), zone))


def _midnight_before(day: date, zone: ZoneInfo) -> datetime:
    """The local midnight that starts `day`, in UTC (its UTC hour follows summer time)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


GROUP_KEYS = ("overdue", "today", "week", "later")


def _task_query():
    """Task with its startup, its enrollment's programme and its assignee's name."""
    assignee = aliased(User)
    return (
        select(Task, Startup, Programme, assignee.name)
        .outerjoin(Startup, Startup.id == Task.startup_id)
        .outerjoin(Enrollment, Enrollment.id == Task.enrollment_id)
        .outerjoin(Programme, Programme.id == Enrollment.programme_id)
        .outerjoin(assignee, assignee.id == Task.assignee_id)
    )


def _order():
    return (Task.due_at.is_(None), Task.due_at, Task.id)


def grouped_tasks(db: Session, assignee_id: int, bounds: DayBounds,
                  limit: int = BUCKET_LIMIT, groups: int = len(GROUP_KEYS)) -> list[TaskGroup]:
    """The assignee's open tasks as Overdue / Today / This week / Later (undated ones last),
    each the first `limit` by due date with the group's total: two queries. With `groups`
    only the first so many groups are read (the digest's 2: overdue and today).

    Each group's first tasks are a range of the (assignee, done_at, due_at) index read in
    order and cut at `limit` (one UNION ALL), so the assignee's other tasks are never read as
    rows; the totals count the same index. A deadline is met until its moment passes
    ("overdue" is `due_at <= now`); a group's upper bound is included, so a task due at local
    midnight belongs to the day that midnight ends.
    """
    mine = (Task.assignee_id == assignee_id, Task.done_at.is_(None))
    ranges = (
        (0, Task.due_at <= bounds.now),
        (1, and_(Task.due_at > bounds.now, Task.due_at <= bounds.tomorrow)),
        (2, and_(Task.due_at > bounds.tomorrow, Task.due_at <= bounds.next_week)),
        (3, Task.due_at > bounds.next_week),
        (3, Task.due_at.is_(None)),  # after the dated ones of "later" (_order)
    )
    firsts = union_all(*(
        select(select(Task.id.label("task_id"), literal(group).label("grp"))
               .where(*mine, in_range).order_by(Task.due_at, Task.id).limit(limit).subquery())
        for group, in_range in ranges if group < groups
    )).subquery()
    rows = db.execute(
        _task_query().add_columns(firsts.c.grp)
        .join(firsts, firsts.c.task_id == Task.id)
        .order_by(firsts.c.grp, *_order())
    ).all()
    found = [TaskGroup(key) for key in GROUP_KEYS[:groups]]
    for task, startup, programme, assignee_name, grp in rows:
        if len(found[grp].lines) < limit:
            found[grp].lines.append(TaskLine(task, startup, programme, assignee_name))
    group_of = case(
        (Task.due_at.is_(None), 3),
        (Task.due_at <= bounds.now, 0),
        (Task.due_at <= bounds.tomorrow, 1),
        (Task.due_at <= bounds.next_week, 2),
        else_=3,
    )
    counted = select(group_of, func.count()).where(*mine).group_by(group_of)
    if groups < len(GROUP_KEYS):  # only tasks due by the end of the last group read
        counted = counted.where(Task.due_at <= (bounds.now, bounds.tomorrow,
                                                bounds.next_week)[groups - 1])
    for grp, total in db.execute(counted).all():
        found[grp].total = total
    return found


def open_task_lines(db: Session, assignee_id: int | None,
                    limit: int = TASK_LIST_LIMIT) -> list[TaskLine]:
    """Open tasks, earliest due first; everyone's when assignee_id is None. One query."""
    query = _task_query().where(Task.done_at.is_(None)).order_by(*_order()).limit(limit)
    if assignee_id is not None:
        query = query.where(Task.assignee_id == assignee_id)
    return [TaskLine(task, startup, programme, name)
            for task, startup, programme, name in db.execute(query).all()]


def active_staff(db: Session) -> list[User]:
    """Active staff who may change things (admins, managers, BD managers), by name."""
    return list(db.scalars(select(User).where(User.is_active, User.role.in_(EDITOR_ROLES))
                           .order_by(User.name, User.id)))


def attach_actions(lines: list[TaskLine], viewer: User, staff: list[User]) -> None:
    """Whether the viewer may act on each task and whom it may go to (no queries).

    Who may be assigned depends only on the startup's owner: worked out once per owner."""
    assignable: dict[tuple[bool, int | None], list[User]] = {}
    for line in lines:
        line.may_change = may_change_task(viewer, line.task, line.startup)
        if line.may_change:
            owner = (line.startup is not None, line.startup.owner_id if line.startup else None)
            if owner not in assignable:
                assignable[owner] = [user for user in staff
                                     if may_be_assigned(user, line.startup)]
            line.assignees = assignable[owner]


def sla_enrollments(db: Session, owner_id: int, now: datetime, zone: ZoneInfo, locale: str,
                    limit: int = SLA_LIMIT) -> SlaLists:
    """Open enrollments of the owner's startups past their SLA, or due within the next
    SLA_NEAR_WORKING_DAYS working days; earliest due first. Two queries."""
    horizon = add_working_days(now, SLA_NEAR_WORKING_DAYS, zone)
    is_past = case((Enrollment.due_at <= now, 0), else_=1)
    ranked = (
        select(Enrollment.id.label("enrollment_id"), is_past.label("near"),
               func.row_number().over(partition_by=is_past,
                                      order_by=(Enrollment.due_at, Enrollment.id)).label("rank"),
               func.count().over(partition_by=is_past).label("total"))
        .join(Startup, Startup.id == Enrollment.startup_id)
        .where(Startup.owner_id == owner_id, Enrollment.status == EnrollmentStatus.OPEN,
               Enrollment.due_at.is_not(None), Enrollment.due_at <= horizon)
        .subquery()
    )
    rows = db.execute(
        select(Enrollment, Startup.name, Programme, ranked.c.near, ranked.c.total)
        .join(ranked, ranked.c.enrollment_id == Enrollment.id)
        .join(Startup, Startup.id == Enrollment.startup_id)
        .join(Programme, Programme.id == Enrollment.programme_id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.near, ranked.c.rank)
    ).all()
    version_ids = {enrollment.programme_version_id for enrollment, *_rest in rows}
    versions = ({version.id: version for version in db.scalars(
        select(ProgrammeVersion).where(ProgrammeVersion.id.in_(version_ids)))}
        if version_ids else {})
    lists = SlaLists([], 0, [], 0)
    for enrollment, startup_name, programme, near, total in rows:
        definition = versions[enrollment.programme_version_id].parsed
        stage = next((s for s in definition.stages if s.key == enrollment.stage), None)
        label = stage.label(locale) if stage else enrollment.stage
        if near:
            days = working_days_between(now, enrollment.due_at - _JUST_BEFORE, zone)
            lists.near.append(DueEnrollment(enrollment, startup_name, programme, label, days))
            lists.near_total = total
        else:
            days = working_days_between(enrollment.due_at - _JUST_BEFORE, now, zone)
            lists.past.append(DueEnrollment(enrollment, startup_name, programme, label, days))
            lists.past_total = total
    return lists


def recently_assigned(db: Session, owner_id: int, now: datetime, days: int = RECENT_DAYS,
                      limit: int = RECENT_LIMIT) -> list[Startup]:
    """Startups given to the owner in the last `days` days, newest first. One query."""
    return list(db.scalars(
        select(Startup)
        .where(Startup.owner_id == owner_id,
               Startup.owner_assigned_at >= now - timedelta(days=days))
        .order_by(Startup.owner_assigned_at.desc(), Startup.id.desc())
        .limit(limit)))
