"""Submitting an application: the startup found or created, enrolled, owned and told, at once.

Everything happens in the caller's transaction: a refusal or a failure anywhere leaves no
startup, contact, enrollment or email behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, EnrollmentStatus, Language, LeadSource
from crm.documents.models import Document
from crm.duplicates.matching import NAME_THRESHOLD, normalise_domain, probable_duplicates
from crm.gdpr import consent
from crm.intake.drafts import closed_reason, documents_of, intake_of
from crm.intake.models import Application
from crm.intake.owners import owner_by_rule
from crm.intake.steps import PITCH_DECK, REQUIRED_STEPS
from crm.outbox.services import queue_email
from crm.programmes.models import Programme
from crm.startups.models import Contact, Startup, StartupSector, Task
from crm.startups.search import refresh_search_fields
from crm.users.models import User
from crm.webhooks import events as webhooks
from crm.workflow import engine
from crm.workflow.calendar import add_working_days
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.models import Enrollment

#: The version of the consent text (templates/intake/_consent_text.html); change both together.
CONSENT_VERSION = "2026-11"
#: Profile fields an application fills in on a startup that already exists, when empty there.
FILLABLE_FIELDS = ("website", "city", "founded_year", "team_size", "funding_stage",
                   "description")
REVIEW_DUE_WORKING_DAYS = 2


class SubmissionRefused(Exception):
    """The application cannot be submitted now; `message` says why, `step` where to fix it."""

    def __init__(self, message, step: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.step = step


def submit(db: Session, application: Application, programme: Programme,
           now: datetime | None = None) -> Application:
    """Submit the draft once: a repeated or concurrent submit finds it submitted and returns."""
    now = now or utcnow()
    if application.status == ApplicationStatus.SUBMITTED:
        return application
    if application.status != ApplicationStatus.DRAFT:
        raise SubmissionRefused(_l("This application was withdrawn."))
    reason = closed_reason(programme, intake_of(db, programme), now)
    if reason:
        raise SubmissionRefused(reason)
    missing = next((step for step in REQUIRED_STEPS if step not in application.answers), None)
    if missing:
        raise SubmissionRefused(_l("Please complete this step first."), step=missing)
    if not any(document.kind == PITCH_DECK for document in documents_of(db, application.id)):
        raise SubmissionRefused(_l("Please upload your pitch deck."), step="documents")
    # The claim: of two requests submitting the same draft, only one changes the row.
    claimed = db.execute(
        update(Application).where(Application.id == application.id,
                                  Application.status == ApplicationStatus.DRAFT)
        .values(status=ApplicationStatus.SUBMITTED, submitted_at=now,
                consent_version=CONSENT_VERSION, consent_given_at=now,
                link_token_hash=None, link_expires_at=None, last_activity_at=now)
        .execution_options(synchronize_session=False))
    db.refresh(application)
    if claimed.rowcount == 0:
        return application
    definition = engine.current_version(db, programme).parsed
    company, people = application.answers["company"], application.answers["people"]["people"]
    startup, match = _find_or_create_startup(db, application, company, people, now)
    contacts = _record_people(db, startup, people, now)
    consent.record_at_intake(db, application, contacts, CONSENT_VERSION, now)
    owner = _assign_owner(db, application, programme, definition, startup, now)
    enrollment, entered = _enroll_at_intake(db, startup, programme, definition, now)
    application.startup_id = startup.id
    application.enrollment_id = enrollment.id
    db.execute(update(Document).where(Document.application_id == application.id)
               .values(startup_id=startup.id).execution_options(synchronize_session=False))
    _tell_owner(db, application, programme, definition, startup, enrollment, owner, entered, now)
    _confirm_to_applicant(db, application, programme, startup)
    db.flush()
    audit.record(db, "application.submitted", object_type="application",
                 object_id=application.id, programme_id=programme.id, startup_id=startup.id,
                 enrollment_id=enrollment.id, matched=match)
    webhooks.emit(db, webhooks.APPLICATION_SUBMITTED, webhooks.application(application, programme))
    return application


# The startup --------------------------------------------------------------------------------


def _find_or_create_startup(db: Session, application: Application, company: dict[str, Any],
                            people: list[dict[str, Any]], now: datetime
                            ) -> tuple[Startup, list[str] | None]:
    """The invited or probably same startup, its empty fields filled in; else a new one.

    Returns the startup and why it matched (None: created)."""
    startup = db.get(Startup, application.startup_id) if application.startup_id else None
    reasons = ["invitation"] if startup else None
    if startup is None:
        candidate = _probable_match(db, company, people)
        if candidate is not None:
            startup, reasons = candidate.startup, candidate.reasons
    if startup is None:
        return _create_startup(db, application, company, now), None
    changes = {name: [None, company.get(name)] for name in FILLABLE_FIELDS
               if getattr(startup, name) in (None, "") and company.get(name) not in (None, "")}
    for name, (_before, value) in changes.items():
        setattr(startup, name, value)
    if "website" in changes and not startup.domain:
        startup.domain = normalise_domain(startup.website)
    new_sectors = _add_sectors(db, startup.id, company.get("sectors") or [])
    if changes or new_sectors:
        startup.version += 1
        audit.record(db, "startup.updated", object_type="startup", object_id=startup.id,
                     application_id=application.id, changes=changes,
                     sectors_added=new_sectors)
    return startup, reasons


def _probable_match(db: Session, company: dict[str, Any], people: list[dict[str, Any]]):
    """The best candidate that shares a domain or e-mail, or a close name in the same country."""
    for candidate in probable_duplicates(
            db, name=company["name"], domain=normalise_domain(company.get("website")),
            emails=[person["email"] for person in people]):
        if {"domain", "email"} & set(candidate.reasons):
            return candidate
        if candidate.score >= NAME_THRESHOLD and candidate.startup.country == company["country"]:
            return candidate
    return None


def _create_startup(db: Session, application: Application, company: dict[str, Any],
                    now: datetime) -> Startup:
    programme = db.get(Programme, application.programme_id)
    startup = Startup(
        name=company["name"], country=company["country"], source=LeadSource.WEB,
        source_detail=f"Application: {programme.name_en}"[:200],
        domain=normalise_domain(company.get("website")),
        **{name: company.get(name) or None for name in FILLABLE_FIELDS
           if name != "description"},
        description=company.get("description") or "",
    )
    db.add(startup)
    db.flush()
    _add_sectors(db, startup.id, company.get("sectors") or [])
    audit.record(db, "startup.created", object_type="startup", object_id=startup.id,
                 application_id=application.id)
    webhooks.emit(db, webhooks.STARTUP_CREATED, webhooks.startup(startup))
    return startup


def _add_sectors(db: Session, startup_id: int, sectors: list[str]) -> list[str]:
    present = set(db.scalars(select(StartupSector.sector)
                             .where(StartupSector.startup_id == startup_id)))
    added = sorted(set(sectors) - present, key=str.casefold)
    for sector in added:
        db.add(StartupSector(startup_id=startup_id, sector=sector))
    return added


def _record_people(db: Session, startup: Startup, people: list[dict[str, Any]],
                   now: datetime) -> list[Contact]:
    """Each person as a contact (a known address keeps its contact), with their consent."""
    known = {contact.email.lower(): contact for contact in db.scalars(
        select(Contact).where(Contact.startup_id == startup.id, Contact.email.is_not(None)))}
    contacts = []
    for person in people:
        contact = known.get(person["email"])
        if contact is None:
            contact = Contact(startup_id=startup.id, name=person["name"],
                              email=person["email"], phone=person.get("phone"),
                              role=person.get("role") or None,
                              language=person.get("language") or Language.EN)
            db.add(contact)
        else:
            contact.phone = contact.phone or person.get("phone")
            contact.role = contact.role or person.get("role") or None
            contact.language = person.get("language") or contact.language
        contact.consent_given_at = now
        contact.consent_text_version = CONSENT_VERSION
        contacts.append(contact)
    db.flush()
    refresh_search_fields(db, startup)
    return contacts


# Owner, enrollment, notices -------------------------------------------------------------------


def _assign_owner(db: Session, application: Application, programme: Programme,
                  definition: ProgrammeDefinition, startup: Startup,
                  now: datetime) -> User | None:
    """The startup's owner; a startup without one gets one by the programme's rule."""
    if startup.owner_id is not None:
        return db.get(User, startup.owner_id)
    owner = owner_by_rule(db, programme.id, definition.intake.owner, startup.country)
    if owner is not None:
        startup.owner_id = owner.id
        startup.owner_assigned_at = now
        application.assigned_owner_id = owner.id
        db.flush()
    return owner


def _enroll_at_intake(db: Session, startup: Startup, programme: Programme,
                      definition: ProgrammeDefinition, now: datetime
                      ) -> tuple[Enrollment, bool]:
    """Enroll at the intake stage, or move an earlier open enrollment there; whether the
    enrollment entered the stage now. A refusal of the engine refuses the submission."""
    stage = definition.intake_stage or definition.first_stage().key
    try:
        enrollment = db.scalars(select(Enrollment).where(
            Enrollment.startup_id == startup.id, Enrollment.programme_id == programme.id,
            Enrollment.status == EnrollmentStatus.OPEN)).first()
        if enrollment is None:
            return engine.enroll(db, startup=startup, programme=programme,
                                 actor=engine.Actor.applicant(), stage=stage, now=now), True
        current = engine.definition_of(db, enrollment)
        active = [item.key for item in current.active_stages()]
        if (stage in active and enrollment.stage in active
                and active.index(enrollment.stage) < active.index(stage)
                and stage in current.allowed_targets(enrollment.stage)):
            engine.move(db, enrollment, stage, engine.Actor.applicant(), now=now)
            return enrollment, True
        return enrollment, False
    except engine.WorkflowError as error:
        raise SubmissionRefused(error.message) from None


def _tell_owner(db: Session, application: Application, programme: Programme,
                definition: ProgrammeDefinition, startup: Startup, enrollment: Enrollment,
                owner: User | None, entered: bool, now: datetime) -> None:
    """A review task and an email for the owner, unless entering the stage already gave them."""
    on_enter = definition.stage(enrollment.stage).on_enter
    locale = owner.locale if owner else Language.EN.value
    if not (entered and on_enter.task):
        with force_locale(locale):
            title = gettext("Review the application of %(name)s", name=startup.name)
        db.add(Task(title=title[:200], startup_id=startup.id, enrollment_id=enrollment.id,
                    assignee_id=owner.id if owner else None,
                    due_at=add_working_days(now, REVIEW_DUE_WORKING_DAYS)))
    if owner is not None and not (entered and on_enter.notify_owner):
        base_url = current_app.config["SETTINGS"].base_url
        queue_email(db, dedupe_key=f"application:{application.id}:owner",
                    to_address=owner.email, locale=Language(locale),
                    template="intake/owner_new_application",
                    context={"programme": programme, "startup": startup, "owner": owner,
                             "application_url": f"{base_url}/applications/{application.id}"},
                    user_id=owner.id, startup_id=startup.id)


def _confirm_to_applicant(db: Session, application: Application, programme: Programme,
                          startup: Startup) -> None:
    queue_email(db, dedupe_key=f"application:{application.id}:confirmation",
                to_address=application.email, locale=Language(application.locale),
                template="intake/confirmation",
                context={"programme": programme, "application": application,
                         "company_name": application.answers["company"]["name"],
                         "withdraw_url": consent.withdrawal_url(application_id=application.id)},
                startup_id=startup.id)
