"""A startup's timeline: activities, stage changes, tasks, emails and submitted applications,
newest first, paged back.

One query per source, each limited, merged in Python: the page's query count does not grow
with the data. Paging goes by a `before` moment, so the URL carries no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from crm.core.enums import ApplicationStatus, OutboxStatus
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.programmes import queries as programme_queries
from crm.programmes.models import Programme
from crm.startups.models import Activity, Task
from crm.users.models import User
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.models import Enrollment, StageEvent

TIMELINE_SIZE = 30

EMAIL_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("waiting to be sent"),
    OutboxStatus.SENDING: _l("being sent"),
    OutboxStatus.SENT: _l("sent"),
    OutboxStatus.FAILED: _l("failed, will retry"),
    OutboxStatus.DEAD: _l("not delivered"),
}


@dataclass
class TimelineEntry:
    kind: str  # "activity", "stage", "task_created", "task_done", "email", "application"
    at: datetime
    order: int  # breaks ties between sources at the same moment
    activity: Activity | None = None
    stage_event: StageEvent | None = None
    task: Task | None = None
    email: OutboxMessage | None = None
    application_id: int | None = None
    actor_name: str | None = None
    programme_name: str | None = None
    from_label: str | None = None
    to_label: str | None = None

    @property
    def days_in_previous_stage(self) -> int | None:
        seconds = self.stage_event.seconds_in_previous_stage if self.stage_event else None
        return None if seconds is None else seconds // 86_400


@dataclass
class Timeline:
    entries: list[TimelineEntry]
    older_before: datetime | None  # where "Show older" continues; None when nothing is older


def parse_before(value: str | None) -> datetime | None:
    """The `before` parameter as an aware UTC moment; anything unreadable means "now"."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_before(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stage_label(definition: ProgrammeDefinition | None, key: str | None,
                 locale: str) -> str | None:
    if key is None:
        return None
    stage = next((s for s in definition.stages if s.key == key), None) if definition else None
    return stage.label(locale) if stage else key


def startup_timeline(db: Session, startup_id: int, locale: str, *,
                     definitions: Mapping[int, ProgrammeDefinition] | None = None,
                     before: datetime | None = None, size: int = TIMELINE_SIZE) -> Timeline:
    """At most `size` entries before `before` (default: everything), newest first.

    `definitions`: the programme version definitions of the startup's enrollments, by version
    id, when the caller has them (the startup page does): stage labels come from them rather
    than from decoding a version's JSON again on every stage event."""
    take = size + 1  # one more per source tells whether anything older is left
    if definitions is None:
        definitions = programme_queries.definitions(db, set(db.scalars(
            select(Enrollment.programme_version_id).where(Enrollment.startup_id == startup_id))))

    def older(column):
        return [column < before] if before is not None else []

    entries: list[TimelineEntry] = []
    author = aliased(User)
    for activity, name in db.execute(
        select(Activity, author.name).outerjoin(author, author.id == Activity.author_id)
        .where(Activity.startup_id == startup_id, *older(Activity.occurred_at))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(take)
    ).all():
        entries.append(TimelineEntry("activity", activity.occurred_at, 0, activity=activity,
                                     actor_name=name))

    actor = aliased(User)
    for event, programme, version_id, name in db.execute(
        select(StageEvent, Programme, Enrollment.programme_version_id, actor.name)
        .join(Enrollment, Enrollment.id == StageEvent.enrollment_id)
        .join(Programme, Programme.id == Enrollment.programme_id)
        .outerjoin(actor, actor.id == StageEvent.actor_user_id)
        .where(Enrollment.startup_id == startup_id, *older(StageEvent.occurred_at))
        .order_by(StageEvent.occurred_at.desc(), StageEvent.id.desc()).limit(take)
    ).all():
        definition = definitions.get(version_id)
        entries.append(TimelineEntry(
            "stage", event.occurred_at, 1, stage_event=event, actor_name=name,
            programme_name=programme.name(locale),
            from_label=_stage_label(definition, event.from_stage, locale),
            to_label=_stage_label(definition, event.to_stage, locale)))

    # A task makes two entries (created, done). Ordering tasks by their latest entry still
    # finds the newest `take` entries among the first `take` tasks: one query for both kinds.
    done_shown = (Task.done_at < before) if before is not None else Task.done_at.is_not(None)
    latest = case((done_shown, Task.done_at), else_=Task.created_at)
    creator, assignee = aliased(User), aliased(User)
    for task, created_by, assigned_to in db.execute(
        select(Task, creator.name, assignee.name)
        .outerjoin(creator, creator.id == Task.created_by_id)
        .outerjoin(assignee, assignee.id == Task.assignee_id)
        .where(Task.startup_id == startup_id, *older(Task.created_at))
        .order_by(latest.desc(), Task.id.desc()).limit(take)
    ).all():
        entries.append(TimelineEntry("task_created", task.created_at, 2, task=task,
                                     actor_name=created_by))
        if task.done_at is not None and (before is None or task.done_at < before):
            entries.append(TimelineEntry("task_done", task.done_at, 3, task=task,
                                         actor_name=assigned_to))

    for email in db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.startup_id == startup_id, *older(OutboxMessage.created_at))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(take)
    ).all():
        entries.append(TimelineEntry("email", email.created_at, 4, email=email))

    # Submitting enrolls, opens a task and queues emails at the same moment: it sorts below them.
    for application_id, submitted_at, programme in db.execute(
        select(Application.id, Application.submitted_at, Programme)
        .join(Programme, Programme.id == Application.programme_id)
        .where(Application.startup_id == startup_id,
               Application.status == ApplicationStatus.SUBMITTED,
               *older(Application.submitted_at))
        .order_by(Application.submitted_at.desc(), Application.id.desc()).limit(take)
    ).all():
        entries.append(TimelineEntry("application", submitted_at, -1,
                                     application_id=application_id,
                                     programme_name=programme.name(locale)))

    entries.sort(key=lambda entry: (entry.at, entry.order), reverse=True)
    if len(entries) <= size:
        return Timeline(entries, None)
    shown = entries[:size]
    boundary = entries[size].at
    if shown[-1].at == boundary:
        # Entries of the boundary moment all go to the next page, none is skipped by it.
        whole = [entry for entry in shown if entry.at != boundary]
        if whole:
            return Timeline(whole, boundary + timedelta(microseconds=1))
    return Timeline(shown, shown[-1].at)
