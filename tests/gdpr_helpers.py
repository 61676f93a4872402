"""Test data for the GDPR tools: a startup that applied through the real form, with staff notes,
a download, and a manager to act on it."""

from __future__ import annotations

from dataclasses import dataclass

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import ActivityKind, Role
from crm.intake.models import Application
from crm.startups.models import Activity, Contact, Startup, Task
from crm.workflow.models import StageEvent
from tests.conftest import fresh, login
from tests.factories import definition, make_programme
from tests.test_intake import APPLICANT, COMPANY, DESK_EMAIL, INTAKE, PEOPLE, fill_in, submit

PERSON_NAME = PEOPLE["people-0-name"]
PERSON_PHONE_DIGITS = "8023456789"


@dataclass
class Applied:
    startup: Startup
    contact: Contact
    application: Application


def intake_programme(db: Session, make_user):
    """The programme of tests/test_intake.py, with its India desk."""
    make_user(Role.BD_MANAGER, email=DESK_EMAIL, name="India Desk")
    return make_programme(db, definition(intake=INTAKE))


def applied_startup(client: FlaskClient, db: Session, programme) -> Applied:
    """Apply through the public form, then add what staff write about the startup and its
    founder: an activity, a task and a stage note naming them."""
    fill_in(client, programme)
    assert submit(client, programme).status_code == 302
    application = fresh(db).scalars(select(Application)).one()
    startup = db.get(Startup, application.startup_id)
    contact = db.scalars(select(Contact).where(Contact.startup_id == startup.id)).one()
    db.add(Activity(startup_id=startup.id, kind=ActivityKind.CALL,
                    subject=f"Call with {PERSON_NAME}",
                    body=f"{PERSON_NAME} ({APPLICANT}) runs {COMPANY['name']}."))
    db.add(Task(title=f"Send {PERSON_NAME} the bank list", startup_id=startup.id,
                description=f"Write to {APPLICANT}"))
    event = db.scalars(select(StageEvent)).first()
    event.note = f"Spoke to {PERSON_NAME}"
    db.commit()
    return Applied(startup, contact, application)


def manager_client(app, make_user, role: Role = Role.MANAGER) -> FlaskClient:
    client = app.test_client()
    assert login(client, make_user(role).email).status_code == 302
    return client
