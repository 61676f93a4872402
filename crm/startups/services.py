"""Changes to what hangs off a startup: logged activities and tasks, each with an audit event.

Like every service here they change state, flush and record; they never commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import ActivityKind, Role
from crm.startups.access import can_edit_startup
from crm.startups.models import Activity, Startup, Task
from crm.users.access import EDITOR_ROLES
from crm.users.models import User
from crm.workflow.calendar import is_working_day, next_working_day


class NotAllowed(Exception):
    """The actor may not change this startup (views answer 403 before it comes to this)."""


def _check(actor: User, startup: Startup) -> None:
    if not can_edit_startup(actor, startup):
        raise NotAllowed(startup.id)


def may_change_task(actor: User, task: Task, startup: Startup | None) -> bool:
    """A startup's task: whoever may edit the startup; any other: its assignee or a manager."""
    if startup is not None:
        return can_edit_startup(actor, startup)
    if actor.has_role(Role.ADMIN, Role.MANAGER):
        return True
    return actor.has_role(Role.BD_MANAGER) and task.assignee_id == actor.id


def log_activity(db: Session, startup: Startup, kind: ActivityKind, subject: str, body: str,
                 occurred_at: datetime | None, actor: User) -> Activity:
    """Log a note, call, meeting, visit, event or email; when it happened defaults to now."""
    _check(actor, startup)
    activity = Activity(startup_id=startup.id, kind=ActivityKind(kind), subject=subject.strip(),
                        body=(body or "").strip(), occurred_at=occurred_at or utcnow(),
                        author_id=actor.id)
    db.add(activity)
    db.flush()
    audit.record(db, "activity.logged", actor_user_id=actor.id, object_type="startup",
                 object_id=startup.id, activity_id=activity.id, kind=activity.kind.value)
    return activity


def create_task(db: Session, startup: Startup, title: str, due_at: datetime | None,
                assignee: User | None, actor: User) -> Task:
    """A task on the startup for someone who may work on it (default: the owner, else the actor)."""
    _check(actor, startup)
    if assignee is not None and (not assignee.is_active or not can_edit_startup(assignee, startup)):
        raise NotAllowed(startup.id)
    assignee_id = assignee.id if assignee is not None else (startup.owner_id or actor.id)
    task = Task(title=title.strip(), startup_id=startup.id, assignee_id=assignee_id,
                created_by_id=actor.id, due_at=due_at)
    db.add(task)
    db.flush()
    audit.record(db, "task.created", actor_user_id=actor.id, object_type="task",
                 object_id=task.id, startup_id=startup.id, assignee_id=assignee_id)
    return task


def complete_task(db: Session, task: Task, startup: Startup | None, actor: User) -> Task:
    """Mark the task done now; a task already done keeps its first done time."""
    if not may_change_task(actor, task, startup):
        raise NotAllowed(task.id)
    if task.done_at is None:
        task.done_at = utcnow()
        db.add(task)
        db.flush()
        audit.record(db, "task.completed", actor_user_id=actor.id, object_type="task",
                     object_id=task.id, startup_id=task.startup_id)
    return task


def reopen_task(db: Session, task: Task, startup: Startup | None, actor: User) -> Task:
    """Undo done: the task is open again."""
    if not may_change_task(actor, task, startup):
        raise NotAllowed(task.id)
    if task.done_at is not None:
        task.done_at = None
        db.add(task)
        db.flush()
        audit.record(db, "task.reopened", actor_user_id=actor.id, object_type="task",
                     object_id=task.id, startup_id=task.startup_id)
    return task


class TaskDone(Exception):
    """The task is done already: there is nothing to snooze."""


#: The snooze buttons: "tomorrow" is the next working day, "next_week" a week from today.
SNOOZE_OPTIONS = ("tomorrow", "next_week")


def snooze_day(option: str, now: datetime, zone: ZoneInfo) -> date:
    """The local day a snooze option moves a task to (a holiday a week ahead moves on)."""
    today = now.astimezone(zone).date()
    if option == "tomorrow":
        return next_working_day(today)
    if option == "next_week":
        day = today + timedelta(days=7)
        return day if is_working_day(day) else next_working_day(day)
    raise ValueError(f"unknown snooze option {option!r}")


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """A task due on `day` is due at its last moment in the desk's zone (as the task form does)."""
    return datetime.combine(day, time.max, tzinfo=zone)


def may_be_assigned(user: User, startup: Startup | None) -> bool:
    """Active staff who may work on the startup; a task without one: any active editor."""
    if not user.is_active:
        return False
    if startup is not None:
        return can_edit_startup(user, startup)
    return user.has_role(*EDITOR_ROLES)


def snooze_task(db: Session, task: Task, until: datetime, actor: User) -> Task:
    """Move an open task's due moment to `until`."""
    startup = db.get(Startup, task.startup_id) if task.startup_id else None
    if not may_change_task(actor, task, startup):
        raise NotAllowed(task.id)
    if task.done_at is not None:
        raise TaskDone(task.id)
    before = task.due_at
    task.due_at = until
    db.add(task)
    db.flush()
    audit.record(db, "task.snoozed", actor_user_id=actor.id, object_type="task",
                 object_id=task.id, startup_id=task.startup_id,
                 before=before.astimezone(UTC).isoformat() if before else None,
                 after=until.astimezone(UTC).isoformat())
    return task


def reassign_task(db: Session, task: Task, assignee: User, actor: User) -> Task:
    """Give the task to someone else who may work on its startup; the same person is a no-op."""
    startup = db.get(Startup, task.startup_id) if task.startup_id else None
    if not may_change_task(actor, task, startup) or not may_be_assigned(assignee, startup):
        raise NotAllowed(task.id)
    if task.assignee_id != assignee.id:
        before = task.assignee_id
        task.assignee_id = assignee.id
        db.add(task)
        db.flush()
        audit.record(db, "task.reassigned", actor_user_id=actor.id, object_type="task",
                     object_id=task.id, startup_id=task.startup_id,
                     before=before, after=assignee.id)
    return task
