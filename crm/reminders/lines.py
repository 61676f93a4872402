"""Reminders as their emails and digest lines tell them: what they are about, loaded in a few
queries for many reminders at once, and whether they still hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.core.enums import ApplicationStatus, EnrollmentStatus, ReminderKind
from crm.intake.models import Application
from crm.programmes.models import Programme, ProgrammeVersion
from crm.reminders.models import Reminder
from crm.startups.models import Startup
from crm.users.models import User
from crm.workflow.calendar import working_days_between
from crm.workflow.definitions import Bilingual, StageDefinition
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment

_JUST_BEFORE = timedelta(microseconds=1)
OWNER_KINDS = (ReminderKind.SLA_DUE_SOON, ReminderKind.SLA_OVERDUE,
               ReminderKind.CHECKLIST_EXPIRING)
APPLICANT_KINDS = (ReminderKind.APPLICATION_NUDGE_3, ReminderKind.APPLICATION_NUDGE_7)


@dataclass
class ReminderLine:
    """One reminder with what its message names; `url` is the deep link (ids only)."""

    reminder: Reminder
    programme: Programme
    url: str = ""
    startup: Startup | None = None
    enrollment: Enrollment | None = None
    stage: StageDefinition | None = None
    owner: User | None = None
    item_label: Bilingual | None = None
    working_days_overdue: int = 0
    application: Application | None = None

    @property
    def kind(self) -> str:
        return self.reminder.kind

    @property
    def due_by(self) -> datetime | None:
        """The last moment before the deadline (its date is the SLA's last working day)."""
        return self.enrollment.due_at - _JUST_BEFORE if self.enrollment.due_at else None

    @property
    def expires_at(self) -> datetime | None:
        return self.reminder.occurrence_at


def describe(db: Session, reminders: list[Reminder], now: datetime,
             base_url: str) -> dict[int, ReminderLine]:
    """The lines of the reminders that still hold, by reminder id; one that no longer does (the
    enrollment moved on or closed, the owner changed, the permit was renewed, the draft was
    submitted) is left out. Six queries, however many reminders."""
    ids = _ids(reminders)
    enrollments = {enrollment.id: (enrollment, startup) for enrollment, startup in db.execute(
        select(Enrollment, Startup).join(Startup, Startup.id == Enrollment.startup_id)
        .where(Enrollment.id.in_(ids["enrollment"])))} if ids["enrollment"] else {}
    applications = _by_id(db, Application, ids["application"])
    items = _by_id(db, ChecklistItem, ids["item"])
    programme_ids = ({enrollment.programme_id for enrollment, _startup in enrollments.values()}
                     | {application.programme_id for application in applications.values()})
    programmes = _by_id(db, Programme, programme_ids)
    versions = {version.id: version.parsed for version in db.scalars(
        select(ProgrammeVersion).options(defer(ProgrammeVersion.source_text))
        .where(ProgrammeVersion.id.in_({e.programme_version_id for e, _s in enrollments.values()
                                        })))} if enrollments else {}
    owners = _by_id(db, User, {startup.owner_id for _e, startup in enrollments.values()
                               if startup.owner_id})
    lines: dict[int, ReminderLine] = {}
    for reminder in reminders:
        if reminder.application_id is not None:
            application = applications.get(reminder.application_id)
            if _draft_holds(application, reminder):
                lines[reminder.id] = ReminderLine(
                    reminder, programmes[application.programme_id], application=application)
            continue
        enrollment, startup = enrollments.get(reminder.enrollment_id, (None, None))
        if not _enrollment_holds(enrollment, startup, reminder, now):
            continue
        definition = versions[enrollment.programme_version_id]
        line = ReminderLine(
            reminder, programmes[enrollment.programme_id],
            url=f"{base_url}/startups/{startup.id}#enrollment-{enrollment.id}",
            startup=startup, enrollment=enrollment,
            stage=next((s for s in definition.stages if s.key == enrollment.stage), None),
            owner=owners.get(startup.owner_id))
        if reminder.kind == ReminderKind.CHECKLIST_EXPIRING:
            item = items.get(reminder.checklist_item_id)
            if not _item_holds(item, reminder):
                continue
            line.item_label = next((declared.label for declared in definition.checklist
                                    if declared.key == item.key), Bilingual(en=item.key,
                                                                            de=item.key))
        elif enrollment.due_at is not None:
            line.working_days_overdue = working_days_between(enrollment.due_at - _JUST_BEFORE,
                                                             now)
        lines[reminder.id] = line
    return lines


def _ids(reminders: list[Reminder]) -> dict[str, set[int]]:
    return {
        "enrollment": {r.enrollment_id for r in reminders if r.enrollment_id is not None},
        "application": {r.application_id for r in reminders if r.application_id is not None},
        "item": {r.checklist_item_id for r in reminders if r.checklist_item_id is not None},
    }


def _by_id(db: Session, model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in db.scalars(select(model).where(model.id.in_(ids)))}


def _draft_holds(application: Application | None, reminder: Reminder) -> bool:
    return (application is not None and application.status == ApplicationStatus.DRAFT
            and bool(application.email)
            and application.last_activity_at == reminder.occurrence_at)


def _enrollment_holds(enrollment: Enrollment | None, startup: Startup | None,
                      reminder: Reminder, now: datetime) -> bool:
    if enrollment is None or enrollment.status != EnrollmentStatus.OPEN:
        return False
    if reminder.kind in OWNER_KINDS and startup.owner_id != reminder.user_id:
        return False
    if reminder.kind == ReminderKind.CHECKLIST_EXPIRING:
        return True
    if enrollment.stage_entered_at != reminder.occurrence_at or enrollment.due_at is None:
        return False
    # Due soon has turned overdue while it waited for a digest: the overdue reminder says so.
    return not (reminder.kind == ReminderKind.SLA_DUE_SOON and enrollment.due_at <= now)


def _item_holds(item: ChecklistItem | None, reminder: Reminder) -> bool:
    return (item is not None and item.status == ChecklistStatus.DONE
            and item.expires_at == reminder.occurrence_at)
