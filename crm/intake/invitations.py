"""Invitations to apply: a draft for one of a startup's contacts, prefilled from its profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import defer
from sqlmodel import Session
from werkzeug.datastructures import MultiDict

from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, EnrollmentStatus, Language, parse_enum
from crm.intake.drafts import CURRENT_VERSION, closed_reason, start_application
from crm.intake.forms import MAX_PEOPLE, PersonForm, answers_of, step_form
from crm.intake.models import Application
from crm.intake.steps import sector_choices
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup, StartupSector
from crm.startups.profile_forms import normalised_email
from crm.startups.services import NotAllowed
from crm.users.models import User
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.engine import current_version
from crm.workflow.models import Enrollment

#: The profile fields the company step asks too (sectors come from their own rows).
COMPANY_FIELDS = ("name", "website", "country", "city", "founded_year", "team_size",
                  "funding_stage", "description")
PERSON_FIELDS = ("name", "role", "email", "phone", "language")


class InvitationRefused(Exception):
    """The invitation cannot be sent; `message` says why (nothing was written)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def invite(db: Session, startup: Startup, programme: Programme, contact: Contact,
           inviter: User, now: datetime | None = None) -> Application:
    """Start a draft for the contact, attached to the startup, and email them the link."""
    now = now or utcnow()
    if not can_edit_startup(inviter, startup):
        raise NotAllowed(startup.id)
    if contact.startup_id != startup.id or not contact.email:
        raise InvitationRefused(_l("Choose a contact of this startup with an email address."))
    try:
        email = normalised_email(contact.email)
    except ValueError:
        raise InvitationRefused(_l("The contact’s email address is not valid.")) from None
    definition = current_version(db, programme).parsed if programme.current_version else None
    reason = closed_reason(programme, definition.intake if definition else None, now)
    if reason:
        raise InvitationRefused(reason)
    if db.scalar(select(exists().where(
            Application.programme_id == programme.id, Application.startup_id == startup.id,
            Application.status == ApplicationStatus.DRAFT))):
        raise InvitationRefused(_l("This startup already has an unfinished application to "
                                   "this programme."))
    return start_application(
        db, programme, email=email, locale=parse_enum(Language, contact.language) or Language.EN,
        answers=prefilled_answers(db, startup, contact, definition), startup_id=startup.id,
        invited_by_id=inviter.id, now=now)


# Prefilled answers ---------------------------------------------------------------------------


def prefilled_answers(db: Session, startup: Startup, invited: Contact,
                      definition: ProgrammeDefinition) -> dict[str, Any]:
    """What the desk knows, as the company and people steps would store it.

    A value the step's form refuses is left out; a step still incomplete without it (a
    required answer unknown) is not prefilled, so the applicant answers it."""

    def form_for(step: str) -> Callable[[MultiDict], FlaskForm]:
        return lambda data: step_form(step, definition.intake, definition.focus_sectors,
                                      formdata=data, meta={"csrf": False})

    answers = {}
    for step, data in (("company", _company_data(db, startup, definition.focus_sectors)),
                       ("people", _people_data(db, startup, invited))):
        form = _accepted(form_for(step), data) if data else None
        if form is not None:
            answers[step] = answers_of(step, form)
    return answers


def _accepted(make_form: Callable[[MultiDict], FlaskForm], data: MultiDict) -> FlaskForm | None:
    """The form valid on `data` less the values it refuses; None if it stays invalid."""
    while True:
        form = make_form(data)
        if form.validate():
            return form
        refused = [name for name, field in form._fields.items()
                   if field.errors and name in data]
        if not refused:
            return None
        for name in refused:
            data.poplist(name)


def _company_data(db: Session, startup: Startup, focus_sectors: list[str]) -> MultiDict:
    """The profile as the company step would post it; of its sectors, those the form offers
    (in the form's order, whatever their case)."""
    data = MultiDict()
    for name in COMPANY_FIELDS:
        value = getattr(startup, name)
        if value not in (None, ""):
            data[name] = str(value)
    known = {sector.casefold() for sector in db.scalars(
        select(StartupSector.sector).where(StartupSector.startup_id == startup.id))}
    data.setlist("sectors", [value for value, _label in sector_choices(focus_sectors)
                             if value.casefold() in known])
    return data


def _people_data(db: Session, startup: Startup, invited: Contact) -> MultiDict:
    """The contacts with an email address, the invited one first, each as the form would
    accept them (a person without an acceptable name or address is left out)."""
    contacts = db.scalars(select(Contact).where(Contact.startup_id == startup.id,
                                                Contact.email.is_not(None))
                          .order_by(Contact.id != invited.id, Contact.name, Contact.id))
    data, seen = MultiDict(), set()
    for contact in contacts:
        person = _accepted(lambda values: PersonForm(formdata=values), MultiDict(
            (name, str(getattr(contact, name))) for name in PERSON_FIELDS
            if getattr(contact, name) not in (None, "")))
        if person is None or person.email.data.strip().lower() in seen:
            continue
        seen.add(person.email.data.strip().lower())
        index = len(seen) - 1
        data.update((f"people-{index}-{name}", field.data)
                    for name, field in person._fields.items() if field.data)
        if len(seen) == MAX_PEOPLE:
            break
    return data


# The startup page ------------------------------------------------------------------------------


@dataclass
class Unfinished:
    application: Application
    programme: Programme
    invited_by: str | None


@dataclass
class StartupApplications:
    unfinished: list[Unfinished]  # the startup's drafts (invitations), newest activity first
    invitable: list[Programme]  # programmes taking applications that it has no draft for
    enrollable: list[Programme]  # active programmes it is not openly enrolled in, by name


def startup_applications(db: Session, startup_id: int,
                         now: datetime | None = None) -> StartupApplications:
    """The startup's unfinished applications, where it may be invited and where it may be
    enrolled: one query over the programmes (the startup's page reads them once)."""
    draft = and_(Application.programme_id == Programme.id,
                 Application.startup_id == startup_id,
                 Application.status == ApplicationStatus.DRAFT)
    openly_enrolled = exists().where(Enrollment.startup_id == startup_id,
                                     Enrollment.programme_id == Programme.id,
                                     Enrollment.status == EnrollmentStatus.OPEN)
    rows = db.execute(
        select(Programme, ProgrammeVersion, Application, User.name, openly_enrolled)
        .join(ProgrammeVersion, CURRENT_VERSION)
        .outerjoin(Application, draft)
        .outerjoin(User, User.id == Application.invited_by_id)
        .where(or_(Programme.is_active, Application.id.is_not(None)))
        .options(defer(ProgrammeVersion.source_text))
        .order_by(Application.last_activity_at.desc(), Programme.name_en)
    ).all()
    unfinished = [Unfinished(application, programme, inviter)
                  for programme, _version, application, inviter, _e in rows if application]
    drafted = {item.programme.id for item in unfinished}
    invitable = {programme.id: programme for programme, version, _a, _u, _e in rows
                 if programme.id not in drafted and closed_reason(
                     programme, version.parsed.intake, now) is None}
    enrollable = {programme.id: programme for programme, _v, _a, _u, enrolled in rows
                  if programme.is_active and not enrolled}
    return StartupApplications(unfinished, _by_name(invitable), _by_name(enrollable))


def _by_name(programmes: dict[int, Programme]) -> list[Programme]:
    return sorted(programmes.values(), key=lambda programme: programme.name_en)
