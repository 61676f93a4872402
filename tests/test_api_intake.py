"""/api/v1/intake-submissions: a whole application in one body, checked by the public form's
rules and submitted as the public form submits it."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from crm.core.audit import AuditEvent
from crm.core.enums import ActorKind, ApplicationStatus, EnrollmentStatus, Role
from crm.documents.models import Document
from crm.intake.models import Application
from crm.intake.submission import CONSENT_VERSION
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup, StartupSector
from crm.users.models import User
from crm.workflow.models import Enrollment, StageEvent
from tests.conftest import fresh
from tests.factories import definition, make_programme
from tests.helpers import count
from tests.test_intake import COMPANY, DESK_EMAIL, INTAKE, PDF, PEOPLE, PLANS, fill_in
from tests.test_intake import programme as programme  # noqa: PLC0414 - the fixture, reused

URL = "/api/v1/intake-submissions"
APPLICANT = "ananya@bengaluru-robotics.example"


def attached(content: bytes, filename: str = "deck.pdf") -> dict:
    return {"filename": filename, "content_base64": base64.b64encode(content).decode()}


def application_body(**changes) -> dict:
    """The public form's test answers (tests/test_intake.py) as one API body."""
    company = {name: value for name, value in COMPANY.items() if not name.startswith("q_")}
    person = {name.removeprefix("people-0-"): value for name, value in PEOPLE.items()}
    return {
        "programme": "corridor", "locale": "en", "email": APPLICANT,
        "company": {**company, "founded_year": int(company["founded_year"]),
                    "team_size": int(company["team_size"])},
        "people": [person], "plans": PLANS, "answers": {"incubator": COMPANY["q_incubator"]},
        "pitch_deck": attached(PDF), "consent": True, "consent_text_version": CONSENT_VERSION,
        **changes}


def fields_of(response) -> set[str]:
    return {error["field"] for error in response.json["errors"]}


def test_a_submission_creates_the_startup_enrolls_it_and_tells_everyone(db, api_as, programme):
    caller = api_as(Role.BD_MANAGER)

    response = caller.post(URL, json=application_body())

    assert response.status_code == 201, response.json
    application = fresh(db).get(Application, response.json["application_id"])
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.consent_version == CONSENT_VERSION and application.consent_given_at
    assert application.answers["company"]["q_incubator"] == "Elevate"
    startup = db.get(Startup, response.json["startup_id"])
    assert application.startup_id == startup.id
    assert (startup.name, startup.domain) == (COMPANY["name"], "bengaluru-robotics.example")
    assert db.get(User, startup.owner_id).email == DESK_EMAIL
    assert set(db.scalars(select(StartupSector.sector)
                          .where(StartupSector.startup_id == startup.id))) == {
        "Industry 4.0", "MedTech"}
    contact = db.scalars(select(Contact).where(Contact.startup_id == startup.id)).one()
    assert (contact.email, contact.phone) == (APPLICANT, "+918023456789")
    assert contact.consent_text_version == CONSENT_VERSION
    enrollment = db.get(Enrollment, response.json["enrollment_id"])
    assert (enrollment.startup_id, enrollment.stage, enrollment.status) == (
        startup.id, "intake", EnrollmentStatus.OPEN)
    assert db.scalars(select(StageEvent.actor_kind)).all() == [ActorKind.APPLICANT]
    deck = db.scalars(select(Document)).one()
    assert (deck.startup_id, deck.kind, deck.filename) == (startup.id, "pitch_deck", "deck.pdf")
    emails = db.execute(select(OutboxMessage.to_address, OutboxMessage.dedupe_key)).all()
    # The confirmation, and no link to continue: the application is complete already.
    assert [key for to, key in emails if to == APPLICANT] == [
        f"application:{application.id}:confirmation"]
    assert DESK_EMAIL in {to for to, _key in emails}
    [received] = db.scalars(select(AuditEvent).where(AuditEvent.action == "application.received"))
    assert (received.actor_user_id, received.object_id) == (caller.user.id, application.id)


def test_the_answers_are_stored_as_the_public_form_stores_them(app, db, api_as, programme):
    fill_in(app.test_client(), programme)
    web = fresh(db).scalars(select(Application)).one()

    response = api_as(Role.MANAGER).post(URL, json=application_body())

    assert response.status_code == 201, response.json
    api = fresh(db).get(Application, response.json["application_id"])
    assert api.answers == web.answers


def test_every_missing_answer_is_named_at_once(db, api_as, programme):
    response = api_as(Role.MANAGER).post(URL, json={"programme": "corridor"})

    assert response.status_code == 422
    assert fields_of(response) == {
        "body.email", "body.company.name", "body.company.country", "body.company.description",
        "body.people.0.name", "body.people.0.email", "body.plans.timeline", "body.pitch_deck",
        "body.consent", "body.consent_text_version"}
    assert count(db, Application) == 0 and count(db, OutboxMessage) == 0


@pytest.mark.parametrize("changes, field", [
    ({"consent": False}, "body.consent"),
    ({"consent_text_version": "2020-01"}, "body.consent_text_version"),
    ({"email": "ananya@"}, "body.email"),
    ({"company": {**application_body()["company"], "country": "XX"}}, "body.company.country"),
    ({"company": {**application_body()["company"], "founded_year": 2999}},
     "body.company.founded_year"),
    ({"company": {**application_body()["company"], "sectors": ["Astrology"]}},
     "body.company.sectors"),
    ({"people": [{**application_body()["people"][0], "phone": "12"}]}, "body.people.0.phone"),
    ({"people": [application_body()["people"][0]] * 2}, "body.people"),
    ({"plans": {**PLANS, "timeline": "someday"}}, "body.plans.timeline"),
    ({"answers": {"incubator": "x" * 501}}, "body.answers.incubator"),
    ({"answers": {"horoscope": "Leo"}}, "body.answers.horoscope"),
    ({"pitch_deck": attached(b"MZ\x90\x00 not a pdf", "deck.pdf")}, "body.pitch_deck"),
    ({"pitch_deck": {"filename": "deck.pdf", "content_base64": "%%%"}},
     "body.pitch_deck.content_base64"),
    ({"company_papers": [attached(b"plain text", "papers.txt")]}, "body.company_papers.0"),
    ({"company": {**application_body()["company"], "colour": "red"}}, "body.company.colour"),
    ({"people": [application_body()["people"][0]] * 7}, "body.people"),
])
def test_a_bad_answer_is_422_naming_it_and_nothing_is_kept(db, api_as, programme, changes,
                                                          field):
    response = api_as(Role.MANAGER).post(URL, json=application_body(**changes))

    assert response.status_code == 422, response.json
    assert fields_of(response) == {field}
    assert count(db, Application) == count(db, Startup) == count(db, Document) == 0
    assert count(db, OutboxMessage) == 0


def test_a_question_the_programme_dropped_is_refused(db, api_as, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL)
    make_programme(db, definition(intake={**INTAKE, "drop": ["city", "timeline"]}))
    plans = {name: value for name, value in PLANS.items() if name != "timeline"}

    refused = api_as(Role.MANAGER).post(URL, json=application_body(plans=plans))
    accepted = api_as(Role.MANAGER).post(URL, json=application_body(plans=plans, company={
        **application_body()["company"], "city": None}))

    assert refused.status_code == 422 and fields_of(refused) == {"body.company.city"}
    assert refused.json["errors"][0]["code"] == "not_asked"
    assert accepted.status_code == 201, accepted.json


def test_messages_are_in_the_applicants_language(api_as, programme):
    company = {**application_body()["company"], "name": ""}

    response = api_as(Role.MANAGER).post(URL, json=application_body(locale="de",
                                                                    company=company))

    assert response.status_code == 422
    assert response.json["errors"][0]["message"] == "Bitte beantworten Sie diese Frage."


def test_a_closed_programme_is_409(db, api_as, programme):
    make_programme(db, definition(intake={**INTAKE, "closes_on": "2020-01-31"}))

    response = api_as(Role.MANAGER).post(URL, json=application_body())

    assert response.status_code == 409 and response.json["type"].endswith("programme-closed")
    assert "not taking applications" in response.json["detail"]
    assert count(db, Application) == 0


def test_an_unknown_programme_is_422(api_as, programme):
    response = api_as(Role.MANAGER).post(URL, json=application_body(programme="nowhere"))

    assert response.status_code == 422 and fields_of(response) == {"body.programme"}


def test_a_refusal_of_the_workflow_is_409_and_leaves_nothing(db, api_as, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL)
    gated = definition(intake=INTAKE)
    gated["stages"][1]["gate"] = {"startup_fields": ["funding_stage"]}
    make_programme(db, gated)
    company = {**application_body()["company"], "funding_stage": ""}

    response = api_as(Role.MANAGER).post(URL, json=application_body(company=company))

    assert response.status_code == 409 and response.json["type"].endswith("submission-refused")
    assert count(db, Application) == count(db, Startup) == count(db, Enrollment) == 0


def test_viewers_and_read_only_tokens_cannot_submit(db, api_as, programme):
    for caller in (api_as(Role.VIEWER), api_as(Role.MANAGER, scopes=("read",))):
        response = caller.post(URL, json=application_body())
        assert response.status_code == 403
    assert count(db, Application) == 0
