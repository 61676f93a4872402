"""What needs attention, in SQL: overdue enrollments and tasks (capped lists), work per person.

Overdue means `due_at <= now`, as on the board and in My work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Integer, case, cast, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus
from crm.reports.figures import Scope
from crm.startups.models import Startup, Task
from crm.users.models import User
from crm.workflow.models import Enrollment

OVERDUE_LIMIT = 50

T = TypeVar("T")


@dataclass(frozen=True)
class Capped(Generic[T]):
    items: tuple[T, ...]  # the first `limit`, most overdue first
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.items)


@dataclass(frozen=True)
class OverdueEnrollment:
    enrollment_id: int
    startup_id: int
    startup_name: str
    programme_id: int
    stage: str
    owner_id: int | None
    owner_name: str | None
    due_at: datetime


@dataclass(frozen=True)
class OverdueTask:
    task_id: int
    title: str
    startup_id: int | None
    startup_name: str | None
    programme_id: int | None  # of the enrollment the task belongs to, if any
    stage: str | None
    assignee_id: int | None
    assignee_name: str | None
    due_at: datetime


@dataclass(frozen=True)
class Workload:
    user_id: int | None  # None: startups nobody owns, tasks nobody is assigned
    name: str | None
    open_enrollments: int
    overdue_enrollments: int
    open_tasks: int
    overdue_tasks: int


def overdue_enrollments(db: Session, scope: Scope, now: datetime, limit: int = OVERDUE_LIMIT,
                        total: int | None = None) -> Capped[OverdueEnrollment]:
    """Open enrollments past their SLA, longest overdue first, and how many there are.

    The first `limit` walk the due_at index and stop; a second query counts them (reading no
    rows of other tables) unless the caller knows the `total` (the sum of `workload`)."""
    overdue = [Enrollment.status == EnrollmentStatus.OPEN, Enrollment.due_at <= now,
               *scope.enrollments()]
    owner = aliased(User)
    rows = db.execute(
        select(Enrollment.id, Enrollment.startup_id, Startup.name, Enrollment.programme_id,
               Enrollment.stage, Startup.owner_id, owner.name, Enrollment.due_at)
        .join(Startup, Startup.id == Enrollment.startup_id)
        .outerjoin(owner, owner.id == Startup.owner_id)
        .where(*overdue)
        .order_by(Enrollment.due_at, Enrollment.id).limit(limit)
    ).all()
    if total is None:
        total = db.scalar(select(func.count()).select_from(Enrollment).where(*overdue))
    return Capped(tuple(OverdueEnrollment(*row) for row in rows), total)


def overdue_tasks(db: Session, scope: Scope, now: datetime, limit: int = OVERDUE_LIMIT,
                  total: int | None = None) -> Capped[OverdueTask]:
    """Open tasks past their due date, longest overdue first, and how many there are (as
    overdue_enrollments)."""
    overdue = [Task.done_at.is_(None), Task.due_at <= now, *scope.tasks()]
    assignee = aliased(User)
    rows = db.execute(
        select(Task.id, Task.title, Task.startup_id, Startup.name, Enrollment.programme_id,
               Enrollment.stage, Task.assignee_id, assignee.name, Task.due_at)
        .outerjoin(Startup, Startup.id == Task.startup_id)
        .outerjoin(Enrollment, Enrollment.id == Task.enrollment_id)
        .outerjoin(assignee, assignee.id == Task.assignee_id)
        .where(*overdue)
        .order_by(Task.due_at, Task.id).limit(limit)
    ).all()
    if total is None:
        total = db.scalar(select(func.count()).select_from(Task).where(*overdue))
    return Capped(tuple(OverdueTask(*row) for row in rows), total)


def workload(db: Session, scope: Scope, now: datetime) -> list[Workload]:
    """Per person: open and overdue enrollments of the startups they own, open and overdue
    tasks assigned to them; one query. People with nothing open are left out; nobody's
    (user_id None) is a row too, so the rows add up to every overdue enrollment and task."""
    zero = literal(0)
    overdue_enrollment = func.count(case((Enrollment.due_at <= now, 1)))
    overdue_task = func.count(case((Task.due_at <= now, 1)))
    loads = union_all(
        select(Startup.owner_id.label("user_id"), func.count().label("open_enrollments"),
               overdue_enrollment.label("overdue_enrollments"), zero.label("open_tasks"),
               zero.label("overdue_tasks"))
        .join(Startup, Startup.id == Enrollment.startup_id)
        .where(Enrollment.status == EnrollmentStatus.OPEN, *scope.enrollments())
        .group_by(Startup.owner_id),
        select(Task.assignee_id, zero, zero, func.count(), overdue_task)
        .where(Task.done_at.is_(None), *scope.tasks())
        .group_by(Task.assignee_id),
    ).subquery()

    def total(column):
        return cast(func.sum(column), Integer)  # PostgreSQL sums counts as numeric

    rows = db.execute(
        select(loads.c.user_id, User.name, total(loads.c.open_enrollments),
               total(loads.c.overdue_enrollments), total(loads.c.open_tasks),
               total(loads.c.overdue_tasks))
        .outerjoin(User, User.id == loads.c.user_id)
        .group_by(loads.c.user_id, User.name)
        .order_by(loads.c.user_id.is_(None), User.name, loads.c.user_id)
    ).all()
    return [Workload(*row) for row in rows]
