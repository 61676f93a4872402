"""Activities and tasks: what the desk logged over two years and what it has to do now.

Tasks are those the stages' on-enter actions created for the stage an open enrollment is in
(done or not, as their owners got to them), the owner's next step where the stage brings none,
then done tasks of the past and open ones due around now to make up the scale's count.
"""

from __future__ import annotations

from random import Random
from typing import NamedTuple

from bench import fake
from bench.clock import DAY, HOUR, MINUTE, NOW, stamp
from bench.histories import EnrollmentPlan
from bench.sla import WorkingDays
from bench.startups import StartupPlan
from crm.core.enums import ActivityKind, EnrollmentStatus, LeadSource
from crm.demo.data import (
    DONE_TASKS,
    FOLLOW_UP_ACTIVITIES,
    OPEN_TASK_FALLBACK,
    OPEN_TASKS,
    ORIGIN_ACTIVITY,
)

ACTIVITY_COLUMNS = ("id", "created_at", "updated_at", "startup_id", "kind", "subject", "body",
                    "occurred_at", "author_id")
TASK_COLUMNS = ("id", "created_at", "updated_at", "title", "description", "startup_id",
                "enrollment_id", "assignee_id", "created_by_id", "due_at", "done_at")
HISTORY = 730 * DAY  # activities reach back two years
STALE_TASK_AFTER = 14 * DAY  # overdue this long: most owners have done it (as the demo)
STAGE_TASK_SHARE = 0.8  # of the tasks at most, from the enrollments' current stages
DONE_SHARE_OF_REST = 0.75  # of the remaining tasks, done in the past; the others open
ORIGIN_SUBJECT = {**ORIGIN_ACTIVITY, LeadSource.OTHER: (ActivityKind.NOTE, "Added by hand")}


class Activity(NamedTuple):
    occurred_at: int
    startup_id: int
    kind: str
    subject: str
    body: str
    author_id: int | None


class TaskRow(NamedTuple):
    created_at: int
    title: str
    startup_id: int
    enrollment_id: int | None
    assignee_id: int | None
    created_by_id: int | None
    due_at: int
    done_at: int | None


def _between(rng: Random, start: int, end: int) -> int:
    """A whole minute from start to end (start when end is not later)."""
    return start + rng.randint(0, max(0, (end - start) // MINUTE)) * MINUTE


def _author(rng: Random, startup: StartupPlan, colleagues: list[int]) -> int:
    return startup.owner_id if startup.owner_id and rng.random() < 0.8 else rng.choice(colleagues)


def activities(rng: Random, startups: list[StartupPlan], count: int, colleagues: list[int],
               timeline: StartupPlan, timeline_count: int) -> list[Activity]:
    """Where each lead came from, then follow-ups spread over the past two years (more for
    startups in programmes), and the timeline startup's own; in the order they happened."""
    others = [startup for startup in startups if startup is not timeline]
    rows = []
    for startup in [timeline, *others[: count - timeline_count]]:
        kind, subject = ORIGIN_SUBJECT[startup.source]
        rows.append(Activity(startup.created, startup.id, kind.value,
                             subject.format(detail=startup.source_detail), "",
                             startup.owner_id))
    weights = [1 + 3 * len(startup.enrollments) for startup in others]
    follow_ups = count - len(rows) - (timeline_count - 1)
    chosen = [timeline] * (timeline_count - 1) + rng.choices(others, weights, k=follow_ups)
    for startup in chosen:
        kind, subject = rng.choice(FOLLOW_UP_ACTIVITIES)
        at = _between(rng, max(startup.created, NOW - HISTORY), NOW)
        rows.append(Activity(at, startup.id, kind.value, subject,
                             rng.choice(fake.ACTIVITY_BODIES), _author(rng, startup, colleagues)))
    rows.sort()
    return rows


def activity_rows(rows: list[Activity]):
    for number, row in enumerate(rows, start=1):
        at = stamp(row.occurred_at)
        yield (number, at, at, row.startup_id, row.kind, row.subject, row.body, at, row.author_id)


def tasks(rng: Random, startups: list[StartupPlan], plans: list[EnrollmentPlan], count: int,
          locales: dict[int, str], colleagues: list[int], days: WorkingDays,
          timeline: StartupPlan, timeline_tasks: tuple[int, int]) -> list[TaskRow]:
    """`count` tasks, in the order they were created; `timeline_tasks` (open, done) of them
    belong to the timeline startup."""
    stage_tasks = [task for plan in plans if plan.outcome == EnrollmentStatus.OPEN
                   and startups[plan.startup] is not timeline
                   for task in [_stage_task(rng, plan, startups[plan.startup], locales, days)]
                   if task]
    open_count, done_count = timeline_tasks
    budget = count - open_count - done_count
    if len(stage_tasks) > budget * STAGE_TASK_SHARE:
        stage_tasks = rng.sample(stage_tasks, int(budget * STAGE_TASK_SHARE))
    rest = budget - len(stage_tasks)
    done = round(rest * DONE_SHARE_OF_REST)
    others = [startup for startup in startups if startup is not timeline]
    rows = stage_tasks
    rows += [_done_task(rng, startup, colleagues) for startup in rng.choices(others, k=done)]
    rows += [_open_task(rng, startup, colleagues) for startup in rng.choices(others, k=rest - done)]
    rows += [_done_task(rng, timeline, colleagues) for _ in range(done_count)]
    rows += [_open_task(rng, timeline, colleagues) for _ in range(open_count)]
    rows.sort()
    return rows


def _stage_task(rng: Random, plan: EnrollmentPlan, startup: StartupPlan, locales: dict[int, str],
                days: WorkingDays) -> TaskRow | None:
    """The task the current stage's on-enter action created, or the owner's own next step."""
    owner, entered = startup.owner_id, plan.entered_at
    action = plan.programme.stages[plan.stage].on_enter.task
    if action is not None:
        due = days.due(entered, action.due_in_working_days)
        done = None
        if rng.random() < (0.85 if due < NOW - STALE_TASK_AFTER else 0.35):
            done = _between(rng, entered, NOW)
        return TaskRow(entered, action.title(locales.get(owner, "en")), startup.id, plan.id,
                       owner, owner, due, done)
    if owner is None:
        return None
    due = max(plan.due_at - rng.randint(0, 3) * DAY, entered + DAY)
    title = rng.choice(OPEN_TASKS.get(plan.stage, OPEN_TASK_FALLBACK))
    return TaskRow(entered, title, startup.id, plan.id, owner, owner, due, None)


def _done_task(rng: Random, startup: StartupPlan, colleagues: list[int]) -> TaskRow:
    created = _between(rng, max(startup.created, NOW - HISTORY), NOW - DAY)
    owner = startup.owner_id or rng.choice(colleagues)
    return TaskRow(created, rng.choice(DONE_TASKS), startup.id, None, owner, owner,
                   created + 7 * DAY, _between(rng, created, min(NOW, created + 10 * DAY)))


def _open_task(rng: Random, startup: StartupPlan, colleagues: list[int]) -> TaskRow:
    """Due around now: a fifth overdue, the rest today or in the coming weeks."""
    if rng.random() < 0.2:
        created = _between(rng, max(startup.created, NOW - 50 * DAY), NOW - 2 * HOUR)
        due = _between(rng, created, NOW - HOUR)
    else:
        created = _between(rng, max(startup.created, NOW - 30 * DAY), NOW)
        due = NOW + rng.randint(0, 40 * 24) * HOUR
    owner = startup.owner_id or rng.choice(colleagues)
    title = rng.choice(OPEN_TASKS.get("lead", OPEN_TASK_FALLBACK))
    return TaskRow(created, title, startup.id, None, owner, owner, due, None)


def task_rows(rows: list[TaskRow]):
    for number, row in enumerate(rows, start=1):
        created = stamp(row.created_at)
        updated = stamp(row.done_at) if row.done_at else created
        yield (number, created, updated, row.title, "", row.startup_id, row.enrollment_id,
               row.assignee_id, row.created_by_id, stamp(row.due_at), stamp(row.done_at))
