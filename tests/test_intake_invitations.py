"""Invitations to apply from a startup's page: a prefilled draft and an email to the contact,
who may send them, what is refused, and the startup page's applications section."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from crm.core.audit import AuditEvent
from crm.core.enums import ApplicationStatus, FundingStage, Language, Role
from crm.db import get_session
from crm.intake import drafts
from crm.intake.models import Application
from crm.intake.submission import submit
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.startups.models import Contact, Startup, StartupSector
from tests.conftest import fresh
from tests.factories import definition, make_programme, make_startup
from tests.helpers import count, post_keeping_flashes, text_of
from tests.test_applications_staff import PDF, PLANS

PROFILE = {"website": "https://bengaluru-robotics.example", "city": "Bengaluru",
           "founded_year": 2021, "team_size": 12, "funding_stage": FundingStage.SEED,
           "description": "Collaborative robots for small factories."}


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db, definition(intake={}, focus_sectors=["Robotics"]))


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def startup(db, bd) -> Startup:
    """A BD manager's startup: a profile, sectors, a founder writing in German and one more."""
    _client, user = bd
    startup = make_startup(db, "Bengaluru Robotics", owner_id=user.id, contact_email=None,
                           **PROFILE)
    db.add_all([
        StartupSector(startup_id=startup.id, sector="Robotics"),
        StartupSector(startup_id=startup.id, sector="fintech"),  # the form's "Fintech"
        StartupSector(startup_id=startup.id, sector="Space Elevators"),  # not offered
        Contact(startup_id=startup.id, name="Asha Rao", email="asha@robotics.example",
                role="CTO", language=Language.EN),
        Contact(startup_id=startup.id, name="Jana Weber", email="Jana@Robotics.example",
                role="CEO", phone="+49 211 1234567", language=Language.DE),
        Contact(startup_id=startup.id, name="No Mail", phone="+91 80 2345 6789"),
    ])
    db.commit()
    return startup


def contact(db, name: str) -> Contact:
    return fresh(db).scalar(select(Contact).where(Contact.name == name))


def invite(client, startup: Startup, programme: Programme, invitee: Contact):
    return post_keeping_flashes(client, f"/startups/{startup.id}/invite",
                                {"programme": programme.id, "contact": invitee.id})


def applications(db) -> list[Application]:
    return list(fresh(db).scalars(select(Application).order_by(Application.id)))


def flashes_after(client, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return text_of(client.get(response.headers["Location"]))


def test_an_invitation_starts_a_prefilled_draft_and_emails_the_contact(db, bd, startup,
                                                                       programme):
    client, user = bd
    jana = contact(db, "Jana Weber")

    response = invite(client, startup, programme, jana)

    assert response.headers["Location"].endswith(f"/startups/{startup.id}#applications")
    [application] = applications(db)
    assert application.status == ApplicationStatus.DRAFT
    assert (application.startup_id, application.invited_by_id) == (startup.id, user.id)
    assert application.email == "jana@robotics.example" and application.locale == "de"
    assert application.answers["company"] == {
        "name": "Bengaluru Robotics", "website": "https://bengaluru-robotics.example",
        "country": "IN", "city": "Bengaluru", "founded_year": 2021, "team_size": 12,
        "sectors": ["Robotics", "Fintech"], "funding_stage": "seed",
        "description": "Collaborative robots for small factories."}
    # The invited contact first; contacts without an address are not people of the form.
    assert application.answers["people"] == {"people": [
        {"name": "Jana Weber", "role": "CEO", "email": "jana@robotics.example",
         "phone": "+492111234567", "language": "de"},
        {"name": "Asha Rao", "role": "CTO", "email": "asha@robotics.example", "phone": None,
         "language": "en"}]}
    assert application.step == "plans"
    [email] = fresh(db).scalars(select(OutboxMessage)).all()
    assert email.to_address == "jana@robotics.example" and email.locale == "de"
    assert email.startup_id == startup.id
    assert "/apply/resume/" in email.body_text
    assert fresh(db).scalar(select(AuditEvent.actor_user_id).where(
        AuditEvent.action == "application.invited")) == user.id
    page = flashes_after(client, response)
    assert "Jana Weber was invited to apply to Corridor." in page


def test_what_the_form_would_refuse_is_left_out(db, bd, startup, programme):
    client, _user = bd
    fresh(db).execute(Startup.__table__.update().where(Startup.id == startup.id).values(
        team_size=0, website="not a website", founded_year=2999))
    db.execute(Contact.__table__.update().where(Contact.name == "Jana Weber")
               .values(phone="12", language="tlh"))
    db.execute(Contact.__table__.update().where(Contact.name == "Asha Rao").values(name="   "))
    db.commit()

    invite(client, startup, programme, contact(db, "Jana Weber"))

    [application] = applications(db)
    company = application.answers["company"]
    assert company["team_size"] is None and company["founded_year"] is None
    assert company["website"] is None and company["city"] == "Bengaluru"
    # A person without a name is no person of the form; a bad phone number is left out.
    assert application.answers["people"] == {"people": [
        {"name": "Jana Weber", "role": "CEO", "email": "jana@robotics.example", "phone": None,
         "language": "en"}]}


def test_a_step_missing_a_required_answer_is_left_to_the_applicant(db, bd, startup,
                                                                   programme):
    client, _user = bd
    fresh(db).execute(Startup.__table__.update().where(Startup.id == startup.id)
                      .values(description=""))
    db.commit()

    invite(client, startup, programme, contact(db, "Asha Rao"))

    [application] = applications(db)
    assert "company" not in application.answers and application.step == "company"
    assert [person["name"] for person in application.answers["people"]["people"]] == [
        "Asha Rao", "Jana Weber"]


def test_an_invited_draft_submits_onto_its_startup(app, db, bd, startup, programme):
    client, _user = bd
    invite(client, startup, programme, contact(db, "Jana Weber"))
    [application] = applications(db)
    with app.test_request_context():
        session = get_session()
        draft = session.get(Application, application.id)
        drafts.save_step(session, draft, "plans", PLANS, locale=Language.DE)
        drafts.save_step(session, draft, "documents", {}, locale=Language.DE)
        drafts.add_document(session, draft, "pitch_deck", FileStorage(
            io.BytesIO(PDF), filename="deck.pdf"))
        submit(session, draft, session.get(Programme, programme.id))
        session.commit()
    assert count(db, Startup) == 1
    assert fresh(db).get(Application, application.id).startup_id == startup.id


@pytest.mark.parametrize("who", ["viewer", "other_bd"])
def test_only_those_who_may_edit_the_startup_invite(db, client_as, startup, programme, who):
    client, _user = client_as(Role.VIEWER if who == "viewer" else Role.BD_MANAGER)
    response = invite(client, startup, programme, contact(db, "Jana Weber"))
    assert response.status_code == 403
    assert applications(db) == [] and count(db, OutboxMessage) == 0


def test_a_manager_may_invite_to_anyones_startup(db, client_as, startup, programme):
    client, _user = client_as(Role.MANAGER)
    assert invite(client, startup, programme, contact(db, "Asha Rao")).status_code == 302
    assert len(applications(db)) == 1


def test_a_contact_without_an_email_cannot_be_invited(db, bd, startup, programme):
    client, _user = bd
    response = invite(client, startup, programme, contact(db, "No Mail"))
    assert "Choose a contact of this startup with an email address." in flashes_after(
        client, response)
    assert applications(db) == [] and count(db, OutboxMessage) == 0


def test_another_startups_contact_cannot_be_invited(db, bd, startup, programme):
    client, user = bd
    other = make_startup(db, "Other GmbH", owner_id=user.id, contact_email="x@other.example")
    stranger = fresh(db).scalar(select(Contact).where(Contact.startup_id == other.id))
    invite(client, startup, programme, stranger)
    assert applications(db) == []


@pytest.mark.parametrize("intake", [None, {"open": False}, {"closes_on": "2020-01-01"}])
def test_a_programme_without_an_open_form_is_refused(db, bd, startup, intake):
    client, _user = bd
    closed = make_programme(db, definition(key="closed", intake=intake))
    response = invite(client, startup, closed, contact(db, "Jana Weber"))
    page = flashes_after(client, response)
    assert "not" in page and "applications" in page
    assert applications(db) == [] and count(db, OutboxMessage) == 0


def test_a_second_unfinished_invitation_is_refused(db, bd, startup, programme):
    client, _user = bd
    invite(client, startup, programme, contact(db, "Jana Weber"))
    response = invite(client, startup, programme, contact(db, "Asha Rao"))
    assert ("This startup already has an unfinished application to this programme."
            in flashes_after(client, response))
    assert len(applications(db)) == 1 and count(db, OutboxMessage) == 1


def test_a_form_without_programme_or_contact_is_refused(db, bd, startup, programme):
    client, _user = bd
    response = post_keeping_flashes(client, f"/startups/{startup.id}/invite",
                                    {"programme": "x"})
    assert "Choose a programme and a contact." in flashes_after(client, response)
    assert applications(db) == []


# The startup page ------------------------------------------------------------------------------


def test_the_startup_page_offers_open_programmes_and_shows_unfinished_applications(
        db, bd, client_as, startup, programme):
    client, user = bd
    make_programme(db, definition(key="closed", name={"en": "Closed One", "de": "Zu"},
                                  intake={"open": False}))
    page = client.get(f"/startups/{startup.id}").get_data(as_text=True)
    form = re.search(r'<form[^>]*action="/startups/\d+/invite".*?</form>', page, re.S).group(0)
    assert f'<option value="{programme.id}">Corridor</option>' in form
    assert "Closed One" not in form and "No Mail" not in form
    assert "Jana Weber (Jana@Robotics.example)" in html.unescape(form)

    invite(client, startup, programme, contact(db, "Jana Weber"))
    [application] = applications(db)
    page = client.get(f"/startups/{startup.id}").get_data(as_text=True)
    section = re.search(r'<section class="card" id="applications".*?</section>', page,
                        re.S).group(0)
    assert f'href="/applications/{application.id}"' in section
    assert f"invited by {user.name}" in section and "last activity" in section
    assert "<form" not in section  # nothing else open to invite to

    viewer, _viewer_user = client_as(Role.VIEWER)
    seen = viewer.get(f"/startups/{startup.id}").get_data(as_text=True)
    assert f'href="/applications/{application.id}"' in seen and "/invite" not in seen


def test_the_startup_page_runs_the_same_queries_with_and_without_applications(
        db, bd, startup, programme, count_queries):
    client, _user = bd
    client.get(f"/startups/{startup.id}")  # warm up
    with count_queries() as without:
        client.get(f"/startups/{startup.id}")
    invite(client, startup, programme, contact(db, "Jana Weber"))
    make_programme(db, definition(key="second", name={"en": "Second", "de": "Zweites"},
                                  intake={}))
    with count_queries() as with_one:
        client.get(f"/startups/{startup.id}")
    assert len(without) == len(with_one), "\n".join(with_one)

