"""Rows of the enrollments, their stage events and their checklists, from planned histories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NamedTuple

from bench.clock import stamp
from bench.histories import EnrollmentPlan
from bench.sla import WorkingDays
from bench.startups import StartupPlan
from crm.core.enums import ActorKind, EnrollmentStatus, LeadSource

ENROLLMENT_COLUMNS = ("id", "created_at", "updated_at", "startup_id", "programme_id",
                      "programme_version_id", "stage", "stage_entered_at", "due_at", "status",
                      "closed_at", "close_reason", "fields", "revision")
STAGE_EVENT_COLUMNS = ("id", "enrollment_id", "from_stage", "to_stage", "actor_kind",
                       "actor_user_id", "occurred_at", "seconds_in_previous_stage", "note")
CHECKLIST_COLUMNS = ("id", "created_at", "updated_at", "enrollment_id", "key", "status",
                     "due_at", "expires_at", "evidence_note", "evidence_document_id",
                     "settled_by_id", "settled_at")


class Event(NamedTuple):
    """A stage event before its id is known; sorted by time, its position gives the id."""

    at: int
    enrollment_id: int
    step: int
    from_stage: str | None
    to_stage: str
    actor_kind: ActorKind
    actor_user_id: int | None
    note: str | None
    plan: EnrollmentPlan


def _fields(plan: EnrollmentPlan, startup: StartupPlan) -> str:
    """The programme's enrollment fields answered (which side referred a corridor startup)."""
    answers = {}
    for declared in plan.programme.definition.fields:
        if declared.choices:
            web = startup.source == LeadSource.WEB and len(declared.choices) > 1
            answers[declared.key] = declared.choices[1 if web else 0].value
    return json.dumps(answers)


def enrollment_rows(plans: list[EnrollmentPlan], startups: list[StartupPlan]):
    for plan in plans:
        startup = startups[plan.startup]
        fields = _fields(plan, startup)
        last_change = max([plan.times[-1], *(item.at for item in plan.settlements)])
        closed = plan.outcome != EnrollmentStatus.OPEN
        # Every move and every settled item is an UPDATE, and so is setting the fields.
        revision = len(plan.visits) + len(plan.settlements) + (fields != "{}")
        yield (plan.id, stamp(plan.times[0]), stamp(last_change), startup.id, plan.programme.id,
               plan.programme.version_id, plan.stage, stamp(plan.entered_at),
               stamp(plan.due_at), plan.outcome.value, stamp(plan.times[-1]) if closed else None,
               plan.close_reason if closed else None, fields, revision)


def stage_events(plans: list[EnrollmentPlan], startups: list[StartupPlan]) -> list[Event]:
    """Every stage event in the order they happened (ids are given in that order)."""
    events: list[Event] = []
    for plan in plans:
        owner = startups[plan.startup].owner_id
        actor = (ActorKind.USER, owner) if owner else (ActorKind.SYSTEM, None)
        closing = plan.outcome != EnrollmentStatus.OPEN
        previous = None
        for step, (stage, at) in enumerate(zip(plan.visits, plan.times, strict=True)):
            kind, user = (ActorKind.APPLICANT, None) if step == 0 and plan.by_applicant else actor
            note = plan.close_reason if closing and step == len(plan.visits) - 1 else None
            events.append(Event(at, plan.id, step, previous, stage, kind, user, note, plan))
            previous = stage
    events.sort()
    return events


def stage_event_rows(events: list[Event]):
    for number, event in enumerate(events, start=1):
        plan = event.plan
        seconds = (event.at - plan.times[event.step - 1]) if event.step else None
        yield (number, event.enrollment_id, event.from_stage, event.to_stage,
               event.actor_kind.value, event.actor_user_id, stamp(event.at), seconds, event.note)


def checklist_rows(plans: list[EnrollmentPlan], startups: list[StartupPlan],
                   days: WorkingDays) -> Iterator[tuple]:
    """Every enrollment's items, as the engine adds them when it enrolls; due dates count from
    the entry into the stage that starts the checklist (from enrolling if none does)."""
    number = 0
    for plan in plans:
        owner = startups[plan.startup].owner_id
        created = stamp(plan.times[0])
        starts_at = (plan.checklist_started_at if plan.programme.checklist_stage
                     else plan.times[0])
        settled = {item.key: item for item in plan.settlements}
        for declared in plan.programme.definition.checklist:
            number += 1
            item = settled.get(declared.key)
            due = (days.due(starts_at, declared.due_in_working_days)
                   if starts_at is not None and declared.due_in_working_days is not None
                   else None)
            if item is None:
                yield (number, created, created, plan.id, declared.key, "open", stamp(due), None,
                       None, None, None, None)
            else:
                yield (number, created, stamp(item.at), plan.id, declared.key, item.status.value,
                       stamp(due), stamp(item.expires_at), item.note, None, owner,
                       stamp(item.at))
