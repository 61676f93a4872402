"""Build test data through the real services: programmes from definitions, startups, users."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import yaml
from sqlmodel import Session

from crm.programmes.models import Programme
from crm.programmes.services import load_definition
from crm.startups.models import Contact, Startup, Task
from crm.startups.search import refresh_search_fields
from crm.users.models import User

SIMPLE_DEFINITION = {
    "key": "corridor",
    "name": {"en": "Corridor", "de": "Korridor"},
    "description": {"en": "A test programme.", "de": "Ein Testprogramm."},
    "intake_stage": "intake",
    "fields": [{"key": "referred_by", "label": {"en": "Referred by", "de": "Vermittelt durch"},
                "choices": [{"value": "karnataka", "label": {"en": "Karnataka", "de": "Karnataka"}},
                            {"value": "duesseldorf",
                             "label": {"en": "Düsseldorf", "de": "Düsseldorf"}}]}],
    "checklist": [
        {"key": "address", "label": {"en": "Address", "de": "Adresse"}, "owner": "startup"},
        {"key": "permit", "label": {"en": "Residence permit", "de": "Aufenthaltstitel"},
         "owner": "startup", "depends_on": ["address"], "expires": True},
        {"key": "bank", "label": {"en": "Bank account", "de": "Geschäftskonto"},
         "owner": "startup", "due_in_working_days": 10},
    ],
    "stages": [
        {"key": "lead", "label": {"en": "Lead", "de": "Interessent"}, "sla_working_days": 5},
        {"key": "intake", "label": {"en": "Intake", "de": "Fragebogen"}, "sla_working_days": 3,
         "on_enter": {"task": {"title": {"en": "Review", "de": "Prüfen"},
                               "due_in_working_days": 2}, "notify_owner": True}},
        {"key": "qualified", "label": {"en": "Qualified", "de": "Qualifiziert"},
         "sla_working_days": 10,
         "gate": {"startup_fields": ["website"], "enrollment_fields": ["referred_by"],
                  "contact_with_email": True},
         "on_enter": {"email_startup": {"template": "programme_accepted"}}},
        {"key": "landed", "label": {"en": "Landed", "de": "Angesiedelt"}, "closes_as": "landed",
         "gate": {"checklist": ["address", "permit", "bank"]}},
        {"key": "withdrawn", "label": {"en": "Withdrawn", "de": "Zurückgezogen"},
         "closes_as": "withdrawn"},
        {"key": "rejected", "label": {"en": "Rejected", "de": "Abgelehnt"},
         "closes_as": "rejected"},
    ],
}


def definition(**changes) -> dict:
    """A copy of SIMPLE_DEFINITION with top-level keys replaced."""
    return {**copy.deepcopy(SIMPLE_DEFINITION), **changes}


def make_programme(db: Session, data: dict | None = None) -> Programme:
    """Load a definition (default: SIMPLE_DEFINITION) as the programme's next version."""
    text = yaml.safe_dump(data or SIMPLE_DEFINITION, allow_unicode=True, sort_keys=False)
    result = load_definition(db, text, "test.yaml")
    db.commit()
    return result.programme


def make_startup(db: Session, name: str = "Bengaluru Robotics", *, country: str = "IN",
                 contact_email: str | None = "founder@robotics.example", **fields) -> Startup:
    startup = Startup(name=name, country=country, **fields)
    db.add(startup)
    db.flush()
    if contact_email:
        db.add(Contact(startup_id=startup.id, name="Asha Rao", email=contact_email))
    refresh_search_fields(db, startup)
    db.commit()
    return startup


def add_task(db: Session, title: str, assignee: User, due_at: datetime | None = None, *,
             startup: Startup | None = None, done: bool = False, **fields) -> Task:
    """A task for the assignee (committed); `done` marks it done on 1 January 2026."""
    if done:
        fields.setdefault("done_at", datetime(2026, 1, 1, tzinfo=UTC))
    task = Task(title=title, assignee_id=assignee.id, due_at=due_at,
                startup_id=startup.id if startup else None, **fields)
    db.add(task)
    db.commit()
    return task


def stage(key: str, en: str, de: str, **extra) -> dict:
    return {"key": key, "label": {"en": en, "de": de}, **extra}


def current_version_id(db: Session, programme: Programme) -> int:
    from crm.workflow.engine import current_version

    return current_version(db, programme).id
