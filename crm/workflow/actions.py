"""On-enter actions of a stage: a task for the owner, emails to the startup and the owner."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import Language, parse_enum
from crm.gdpr import consent
from crm.outbox.services import queue_email
from crm.programmes.models import Programme
from crm.startups.models import Contact, Startup, Task
from crm.users.models import User
from crm.workflow.calendar import add_working_days
from crm.workflow.definitions import ProgrammeDefinition, StageDefinition
from crm.workflow.models import Enrollment, StageEvent


def run_on_enter(
    db: Session,
    *,
    enrollment: Enrollment,
    startup: Startup,
    definition: ProgrammeDefinition,
    stage: StageDefinition,
    event: StageEvent,
    actor_user_id: int | None,
    now: datetime,
) -> None:
    """Queue what the stage declares; emails are outbox rows keyed by the stage event."""
    on_enter = stage.on_enter
    owner = db.get(User, startup.owner_id) if startup.owner_id else None
    context = {
        "startup": startup,
        "programme": db.get(Programme, enrollment.programme_id),
        "definition": definition,
        "stage": stage,
        "owner": owner,
        "startup_url": f"{current_app.config['SETTINGS'].base_url}/startups/{startup.id}",
    }
    if on_enter.task:
        locale = owner.locale if owner else Language.EN.value
        db.add(Task(
            title=on_enter.task.title(locale), startup_id=startup.id, enrollment_id=enrollment.id,
            assignee_id=startup.owner_id, created_by_id=actor_user_id,
            due_at=add_working_days(now, on_enter.task.due_in_working_days),
        ))
    if on_enter.email_startup:
        for contact in _contacts_with_email(db, startup):
            queue_email(
                db, dedupe_key=f"stage-email:{event.id}:{contact.id}", to_address=contact.email,
                locale=parse_enum(Language, contact.language) or Language.EN,
                template=f"workflow/{on_enter.email_startup.template}",
                context={**context, "contact": contact,
                         "withdraw_url": consent.withdrawal_url(contact_id=contact.id)},
                startup_id=startup.id,
            )
    if on_enter.notify_owner and owner is not None and owner.id != actor_user_id:
        queue_email(
            db, dedupe_key=f"stage-owner:{event.id}", to_address=owner.email,
            locale=parse_enum(Language, owner.locale) or Language.EN,
            template="workflow/owner_stage_entered", context=context,
            user_id=owner.id, startup_id=startup.id,
        )


def _contacts_with_email(db: Session, startup: Startup) -> list[Contact]:
    """The startup's contacts we may email: none while the startup is restricted (GDPR Art.
    18), and not those restricted or who withdrew their consent (crm/gdpr/consent.py)."""
    if startup.restricted_at is not None:
        return []
    return list(db.scalars(select(Contact).where(
        Contact.startup_id == startup.id, Contact.email.is_not(None), Contact.email != "",
        consent.may_email_contact(),
    ).order_by(Contact.id)))
