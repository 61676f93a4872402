"""Restriction of processing (GDPR Art. 18): the data stays, but nobody edits it, no emails or
reminders go out about it, and list exports leave it out, until the restriction is lifted."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.exports.services import export_rows
from crm.outbox.models import OutboxMessage
from crm.reminders.due import owed_reminders
from crm.startups.listing import ListView
from crm.startups.models import Contact, Startup
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import Enrollment
from tests.conftest import fresh
from tests.factories import definition, make_programme, make_startup, stage
from tests.gdpr_helpers import manager_client
from tests.helpers import audit_events, post, post_keeping_flashes, reloaded, text_of

#: A programme whose second stage emails the startup's contacts, with no gate before it.
WELCOMING = definition(key="welcoming", intake_stage=None, stages=[
    stage("lead", "Lead", "Interessent", sla_working_days=5),
    stage("welcome", "Welcome", "Willkommen",
          on_enter={"email_startup": {"template": "programme_accepted"}}),
    stage("rejected", "Rejected", "Abgelehnt", closes_as="rejected"),
])
ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture
def staff(app, make_user):
    return manager_client(app, make_user)


def restrict(client, startup_id: int, reason: str = "The founder contests the data",
             contact_id: int | None = None):
    base = f"/startups/{startup_id}"
    target = f"{base}/contacts/{contact_id}/privacy/restrict" if contact_id else (
        f"{base}/privacy/restrict")
    return post(client, target, {"reason": reason}, token_from=f"{base}/privacy")


def test_a_restricted_startup_shows_a_banner_and_refuses_edits(app, db, staff):
    startup = make_startup(db, "Seoul Sensors")

    assert restrict(staff, startup.id).status_code == 302

    page = text_of(staff.get(f"/startups/{startup.id}"))
    assert "Processing of this startup is restricted" in page
    assert "The founder contests the data" in page
    assert f"/startups/{startup.id}/edit" not in page
    response = staff.get(f"/startups/{startup.id}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/startups/{startup.id}")
    assert "cannot be changed until the restriction is lifted" in text_of(
        staff.get(f"/startups/{startup.id}"))
    refused = post_keeping_flashes(staff, f"/startups/{startup.id}/edit", {"name": "Renamed"})
    assert refused.status_code == 302
    assert reloaded(db, Startup, startup.id).name == "Seoul Sensors"
    event = audit_events(db, "gdpr.restricted", startup_id=startup.id)[0]
    assert "contests" not in str(event.details)


def test_a_restriction_without_a_reason_is_explained(app, db, staff):
    startup = make_startup(db, "Seoul Sensors")

    response = restrict(staff, startup.id, reason="")

    assert response.status_code == 422 and "Say why" in text_of(response)
    assert reloaded(db, Startup, startup.id).restricted_at is None


def test_a_restricted_contact_cannot_be_edited(app, db, staff):
    startup = make_startup(db, "Seoul Sensors")
    contact = db.scalars(select(Contact)).one()

    assert restrict(staff, startup.id, contact_id=contact.id).status_code == 302

    response = staff.get(f"/startups/{startup.id}/contacts/{contact.id}/edit")
    assert response.status_code == 302
    assert "this contact is restricted" in text_of(staff.get(f"/startups/{startup.id}"))
    assert reloaded(db, Contact, contact.id).restricted_reason == "The founder contests the data"


def _enter_welcome(app, db, startup):
    programme = make_programme(db, WELCOMING)
    with app.app_context():
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.system())
        engine.move(db, enrollment, "welcome", Actor.system())
        db.commit()


def _emails_to(db, address: str) -> int:
    return len(fresh(db).scalars(select(OutboxMessage)
                                 .where(OutboxMessage.to_address == address)).all())


def test_no_stage_email_goes_to_a_restricted_startup_or_contact(app, db, staff):
    restricted = make_startup(db, "Seoul Sensors", contact_email="ceo@seoul.example")
    with_restricted_contact = make_startup(db, "Lagos Logistics",
                                           contact_email="ceo@lagos.example")
    lagos_contact = db.scalars(select(Contact).where(
        Contact.startup_id == with_restricted_contact.id)).one()
    free = make_startup(db, "Porto Pumps", contact_email="ceo@porto.example")
    assert restrict(staff, restricted.id).status_code == 302
    assert restrict(staff, with_restricted_contact.id, contact_id=lagos_contact.id
                    ).status_code == 302

    for startup in (restricted, with_restricted_contact, free):
        _enter_welcome(app, db, reloaded(db, Startup, startup.id))

    assert _emails_to(db, "ceo@porto.example") == 1
    assert _emails_to(db, "ceo@seoul.example") == 0
    assert _emails_to(db, "ceo@lagos.example") == 0


def test_no_reminders_are_owed_about_a_restricted_startup(app, db, staff, make_user):
    owner = make_user(Role.BD_MANAGER)
    programme = make_programme(db, WELCOMING)
    month_ago = utcnow() - timedelta(days=30)
    startups = [make_startup(db, name, owner_id=owner.id) for name in ("Seoul", "Porto")]
    with app.app_context():
        for startup in startups:
            engine.enroll(db, startup=startup, programme=programme, actor=Actor.system(),
                          now=month_ago)
        db.commit()
    assert restrict(staff, startups[0].id).status_code == 302

    with app.app_context():
        owed = owed_reminders(fresh(db), utcnow(), ZONE)

    reminded = {db.get(Enrollment, item.enrollment_id).startup_id for item in owed}
    assert reminded == {startups[1].id}


def test_list_exports_leave_restricted_startups_out_and_lifting_is_audited(app, db, staff,
                                                                             make_user):
    seoul = make_startup(db, "Seoul Sensors")
    make_startup(db, "Porto Pumps")
    assert restrict(staff, seoul.id).status_code == 302
    viewer = make_user(Role.ADMIN)

    with app.app_context():
        names = [row[1] for row in export_rows(fresh(db), ListView(), viewer.id, ZONE, "en")]
    assert names == ["Porto Pumps"]

    base = f"/startups/{seoul.id}/privacy"
    assert post(staff, f"{base}/lift", token_from=base).status_code == 302
    assert reloaded(db, Startup, seoul.id).restricted_at is None
    assert len(audit_events(db, "gdpr.restriction_lifted", startup_id=seoul.id)) == 1
    with app.app_context():
        names = [row[1] for row in export_rows(fresh(db), ListView(), viewer.id, ZONE, "en")]
    assert sorted(names) == ["Porto Pumps", "Seoul Sensors"]
