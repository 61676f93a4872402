"""The public application form: steps, bad input, documents, resume links, submit, withdraw."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.core.enums import ActorKind, ApplicationStatus, EnrollmentStatus, Role
from crm.documents.models import Document
from crm.documents.services import path_of
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup, StartupSector, Task
from crm.users.models import User
from crm.workflow.models import Enrollment, StageEvent
from tests.conftest import csrf_token, fresh
from tests.factories import definition, make_programme, make_startup
from tests.helpers import count, text_of

DESK_EMAIL = "desk.india@desk.example"
INTAKE = {
    "owner": {"country_desks": {"IN": [DESK_EMAIL]}},
    "questions": [{"key": "incubator", "step": "company",
                   "label": {"en": "Which incubator supports you?",
                             "de": "Welcher Inkubator unterstützt Sie?"}}],
}
COMPANY = {
    "name": "Bengaluru Robotics Pvt Ltd", "website": "bengaluru-robotics.example",
    "country": "IN", "city": "Bengaluru", "founded_year": "2021", "team_size": "12",
    "sectors": ["Industry 4.0", "MedTech"], "funding_stage": "seed",
    "description": "Collaborative robots for small factories.", "q_incubator": "Elevate",
}
PEOPLE = {
    "people-0-name": "Ananya Rao", "people-0-role": "CEO",
    "people-0-email": "Ananya@Bengaluru-Robotics.example", "people-0-phone": "+91 80 2345 6789",
    "people-0-language": "en",
}
PLANS = {"timeline": "within_3_months", "office_need": "coworking", "hiring_plans": "1_5",
         "help_needed": ["visa", "bank_account"], "notes": ""}
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
APPLICANT = "ananya@bengaluru-robotics.example"


@pytest.fixture
def programme(db, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL, name="India Desk")
    return make_programme(db, definition(intake=INTAKE))


def url(programme, path: str = "") -> str:
    return f"/apply/{programme.key}{path}"


def post_form(client, target: str, data: dict | None = None, page: str | None = None, **kw):
    """Post with the CSRF token of the client's session (read from `page`, default: target)."""
    token = csrf_token(client, page or target)
    return client.post(target, data={**(data or {}), "csrf_token": token}, **kw)


def start(client, programme, email: str = APPLICANT):
    return post_form(client, url(programme, "/start"), {"email": email}, page=url(programme))


def upload(client, programme, kind: str = "pitch_deck", content: bytes = PDF,
           name: str = "deck.pdf"):
    from io import BytesIO

    return post_form(client, url(programme, "/documents/upload"),
                     {"kind": kind, "file": (BytesIO(content), name)},
                     page=url(programme, "/documents"), content_type="multipart/form-data")


def fill_in(client, programme, *, company: dict | None = None, email: str = APPLICANT) -> None:
    """Start and save every step up to the review, with a pitch deck."""
    assert start(client, programme, email=email).status_code == 302
    people = {**PEOPLE, "people-0-email": email}
    for step, answers in (("company", company or COMPANY), ("people", people),
                          ("plans", PLANS)):
        response = post_form(client, url(programme, f"/{step}"), answers)
        assert response.status_code == 302, text_of(response)
    assert upload(client, programme).status_code == 302
    assert post_form(client, url(programme, "/documents")).status_code == 302


def submit(client, programme, **extra):
    return post_form(client, url(programme, "/submit"), {"consent": "y", **extra},
                     page=url(programme, "/review"))


def the_application(db) -> Application:
    return fresh(db).scalars(select(Application)).one()


def resume_link(db, to: str = APPLICANT) -> str:
    """The path of the newest resume link emailed to this address."""
    message = fresh(db).scalars(select(OutboxMessage).where(OutboxMessage.to_address == to)
                                .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/apply/resume/\S+)", message.body_text).group(1)


# Landing and language -------------------------------------------------------------------------


def test_the_landing_page_speaks_the_browsers_language(client, programme):
    english = client.get(url(programme), headers={"Accept-Language": "en-GB,en;q=0.9"})
    german = client.get(url(programme), headers={"Accept-Language": "de-DE,de;q=0.9"})

    assert english.status_code == german.status_code == 200
    assert 'lang="en"' in text_of(english) and "Corridor" in text_of(english)
    assert 'lang="de"' in text_of(german) and "Korridor" in text_of(german)


def test_a_programme_without_a_form_is_not_found(client, db):
    plain = make_programme(db, definition(key="plain"))

    assert client.get(f"/apply/{plain.key}").status_code == 404
    assert client.get("/apply/nonexistent").status_code == 404


def test_the_index_lists_programmes_that_take_applications(client, db, programme):
    make_programme(db, definition(key="plain", name={"en": "Plain one", "de": "Schlicht"}))

    page = text_of(client.get("/apply/"))

    assert "Corridor" in page and "Plain one" not in page


def test_the_privacy_notice_is_a_page_in_both_languages(client):
    english = client.get("/privacy", headers={"Accept-Language": "en"})
    german = client.get("/privacy", headers={"Accept-Language": "de"})

    assert "Privacy notice" in text_of(english)
    assert "Datenschutz" in text_of(german)


# Starting -------------------------------------------------------------------------------------


def test_starting_saves_a_draft_and_emails_a_resume_link(client, db, programme):
    response = start(client, programme)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(url(programme, "/company"))
    application = the_application(db)
    assert application.status == ApplicationStatus.DRAFT
    assert application.email == APPLICANT and application.step == "company"
    assert application.link_token_hash and len(application.link_token_hash) == 64
    message = fresh(db).scalars(select(OutboxMessage)).one()
    assert message.to_address == APPLICANT
    token = resume_link(db).rsplit("/", 1)[1]
    assert token not in application.link_token_hash  # only the hash is stored


def test_a_bad_address_is_refused_next_to_the_field_and_kept(client, db, programme):
    response = start(client, programme, email="ananya@@example")

    assert response.status_code == 422
    assert "valid email address" in text_of(response)
    assert 'value="ananya@@example"' in text_of(response)
    assert count(db, Application) == 0


def test_a_filled_honeypot_creates_nothing(client, db, programme):
    response = post_form(client, url(programme, "/start"),
                         {"email": APPLICANT, "leave_empty": "http://spam.example"},
                         page=url(programme))

    assert response.status_code == 200
    assert count(db, Application) == 0 and count(db, OutboxMessage) == 0


def test_starting_is_rate_limited_per_address(client, programme):
    answers = [start(client, programme, email=f"f{n}@example.in").status_code for n in range(7)]

    assert answers[:5] == [302] * 5
    assert answers[-1] == 429


# Steps ----------------------------------------------------------------------------------------


def test_without_a_draft_the_steps_lead_to_the_landing_page(client, programme):
    response = client.get(url(programme, "/company"))

    assert response.status_code == 302
    assert response.headers["Location"].endswith(url(programme))


def test_steps_are_saved_one_by_one_and_later_ones_wait(client, db, programme):
    start(client, programme)
    assert client.get(url(programme, "/plans")).headers["Location"].endswith("/company")

    assert post_form(client, url(programme, "/company"), COMPANY).status_code == 302

    application = the_application(db)
    assert application.step == "people"
    company = application.answers["company"]
    assert company["name"] == COMPANY["name"]
    assert company["website"] == "https://bengaluru-robotics.example"  # scheme added
    assert company["founded_year"] == 2021 and company["team_size"] == 12
    assert company["sectors"] == ["Industry 4.0", "MedTech"]
    assert company["q_incubator"] == "Elevate"
    page = text_of(client.get(url(programme, "/company")))
    assert 'value="Bengaluru Robotics Pvt Ltd"' in page  # a saved step shows its answers


@pytest.mark.parametrize(("field", "value", "message"), [
    ("founded_year", "2999", "Enter a year between 1800 and"),
    ("team_size", "-1", "Enter a number of people from 1 to 100,000."),
    ("description", "x" * 100_000, "Please keep it to 3000 characters."),
    ("website", "not a website", "Enter a web address"),
    ("name", "", "Please answer this question."),
    ("country", "XX", "Not a valid choice"),
])
def test_bad_company_answers_are_explained_and_nothing_is_saved(client, db, programme, field,
                                                                value, message):
    start(client, programme)

    response = post_form(client, url(programme, "/company"), {**COMPANY, field: value})

    assert response.status_code == 422
    assert message in text_of(response)
    assert 'value="Bengaluru"' in text_of(response)  # what was typed is kept
    assert "company" not in the_application(db).answers


@pytest.mark.parametrize("name", ["두산로보틱스", "बेंगलुरु रोबोटिक्स", "Robo 🤖 GmbH",
                                  "<script>alert(1)</script>"])
def test_names_in_any_script_are_stored_as_typed_and_shown_escaped(client, db, programme, name):
    start(client, programme)

    post_form(client, url(programme, "/company"), {**COMPANY, "name": name})

    assert the_application(db).answers["company"]["name"] == name
    page = client.get(url(programme, "/company")).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


def test_people_bad_email_and_phone_are_explained(client, db, programme):
    start(client, programme)
    post_form(client, url(programme, "/company"), COMPANY)

    response = post_form(client, url(programme, "/people"), {
        **PEOPLE, "people-0-email": "ananya.example", "people-0-phone": "12345"})

    assert response.status_code == 422
    page = text_of(response)
    assert "Enter a valid email address" in page
    assert "international format" in page
    assert 'value="ananya.example"' in page
    assert "people" not in the_application(db).answers


def test_another_person_can_be_added_and_is_saved(client, db, programme):
    start(client, programme)
    post_form(client, url(programme, "/company"), COMPANY)

    added = post_form(client, url(programme, "/people"), {**PEOPLE, "add_person": "1"})
    assert "Person 2" in text_of(added) and 'value="Ananya Rao"' in text_of(added)
    response = post_form(client, url(programme, "/people"), {
        **PEOPLE, "people-1-name": "Vikram Iyer", "people-1-email": "vikram@example.in",
        "people-1-language": "de"})

    assert response.status_code == 302
    people = the_application(db).answers["people"]["people"]
    assert [person["email"] for person in people] == [APPLICANT, "vikram@example.in"]
    assert people[0]["phone"] == "+918023456789"
    assert people[1]["language"] == "de"


# Documents ------------------------------------------------------------------------------------


def test_the_pitch_deck_is_checked_by_content(client, db, programme):
    start(client, programme)
    for step, answers in (("company", COMPANY), ("people", PEOPLE), ("plans", PLANS)):
        post_form(client, url(programme, f"/{step}"), answers)

    fake = upload(client, programme, content=b"MZ\x90\x00 a renamed program", name="deck.pdf")
    assert fake.status_code == 422
    assert "not a PDF" in text_of(fake)
    image = upload(client, programme, content=b"\x89PNG\r\n\x1a\n....", name="deck.png")
    assert image.status_code == 422
    too_big = upload(client, programme, content=PDF + b"0" * (15 * 1024 * 1024))
    assert too_big.status_code in (413, 422)
    assert count(db, Document) == 0
    refused = post_form(client, url(programme, "/documents"))
    assert refused.status_code == 422 and "pitch deck" in text_of(refused)

    assert upload(client, programme).status_code == 302
    document = fresh(db).scalars(select(Document)).one()
    assert document.kind == "pitch_deck" and document.startup_id is None
    assert path_of_in(client, document).read_bytes() == PDF


def path_of_in(client, document):
    with client.application.app_context():
        return path_of(document)


def test_a_new_pitch_deck_replaces_the_old_and_papers_can_be_removed(client, db, programme):
    fill_in(client, programme)
    first = fresh(db).scalars(select(Document)).one()
    old_path = path_of_in(client, first)

    upload(client, programme, name="deck-v2.pdf")
    upload(client, programme, kind="company_papers", content=b"\xff\xd8\xff jpeg",
           name="register.jpg")

    documents = fresh(db).scalars(select(Document).order_by(Document.id)).all()
    assert [document.filename for document in documents] == ["deck-v2.pdf", "register.jpg"]
    assert not old_path.exists()
    paper = documents[1]
    post_form(client, url(programme, f"/documents/{paper.id}/remove"),
              page=url(programme, "/documents"))
    assert count(db, Document) == 1


# Resume links ---------------------------------------------------------------------------------


def test_the_emailed_link_opens_the_draft_on_another_device_once(app, client, db, programme):
    start(client, programme)
    post_form(client, url(programme, "/company"), COMPANY)
    link = resume_link(db)
    other_device = app.test_client()

    page = other_device.get(link)
    assert page.status_code == 200 and "Continue my application" in text_of(page)
    opened = post_form(other_device, link)
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(url(programme, "/people"))
    assert 'value="Bengaluru Robotics Pvt Ltd"' in text_of(
        other_device.get(url(programme, "/company")))

    used_again = app.test_client().get(link)
    assert used_again.status_code == 410
    assert "Send me a new link" in text_of(used_again)


def test_an_expired_or_tampered_link_offers_a_new_one(app, client, db, programme, clock):
    start(client, programme)
    link = resume_link(db)

    assert app.test_client().get(link[:-3] + "abc").status_code == 410
    clock(datetime.now(UTC) + timedelta(days=8))
    assert app.test_client().get(link).status_code == 410


def test_a_new_link_by_address_never_tells_whether_it_applied(app, client, db, programme):
    start(client, programme)
    stranger = app.test_client()

    known = post_form(stranger, "/apply/link", {"link-email": APPLICANT}, page=url(programme))
    unknown = post_form(stranger, "/apply/link", {"link-email": "nobody@example.org"},
                        page=url(programme))

    def without_tokens(response) -> str:  # CSRF tokens carry the second they were signed
        return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", text_of(response))

    assert without_tokens(known) == without_tokens(unknown)
    emails = fresh(db).scalars(select(OutboxMessage.to_address)).all()
    assert emails == [APPLICANT, APPLICANT]
    assert app.test_client().get(resume_link(db)).status_code == 200


# Submitting -----------------------------------------------------------------------------------


def test_submitting_creates_the_startup_enrolls_it_and_tells_everyone(client, db, programme):
    fill_in(client, programme)

    response = submit(client, programme)

    assert response.status_code == 302 and response.headers["Location"].endswith("/done")
    assert "Thank you" in text_of(client.get(url(programme, "/done")))
    application = the_application(db)
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.consent_version and application.consent_given_at
    startup = db.get(Startup, application.startup_id)
    assert startup.name == COMPANY["name"] and startup.domain == "bengaluru-robotics.example"
    assert db.get(User, startup.owner_id).email == DESK_EMAIL
    assert set(db.scalars(select(StartupSector.sector)
                          .where(StartupSector.startup_id == startup.id))) == {
        "Industry 4.0", "MedTech"}
    contact = db.scalars(select(Contact).where(Contact.startup_id == startup.id)).one()
    assert contact.email == APPLICANT and contact.consent_text_version
    enrollment = db.scalars(select(Enrollment)).one()
    assert enrollment.stage == "intake" and enrollment.status == EnrollmentStatus.OPEN
    event = db.scalars(select(StageEvent)).one()
    assert event.actor_kind == ActorKind.APPLICANT
    owner_task = db.scalars(select(Task)).one()
    assert owner_task.assignee_id == startup.owner_id
    assert db.scalars(select(Document)).one().startup_id == startup.id
    recipients = db.scalars(select(OutboxMessage.to_address)
                            .order_by(OutboxMessage.id)).all()
    assert recipients.count(APPLICANT) == 2  # the link, then the confirmation
    assert DESK_EMAIL in recipients


def test_the_owner_comes_from_the_country_desk_then_round_robin(client, app, db, programme,
                                                               make_user):
    first, second = make_user(Role.BD_MANAGER), make_user(Role.BD_MANAGER)
    owners = []
    names = ("Mysore Motion", "Hanbit Robotics", "Seoul Sensor Works", "Jeju Tidal Energy")
    for number, (name, country) in enumerate(zip(names, ("IN", "KR", "KR", "KR"))):
        browser = app.test_client()
        fill_in(browser, programme, company={
            **COMPANY, "name": name, "country": country,
            "website": f"startup{number}.example"}, email=f"founder{number}@example.org")
        submit(browser, programme)
    for application in fresh(db).scalars(select(Application).order_by(Application.id)):
        owners.append(db.get(Startup, application.startup_id).owner_id)

    desk = fresh(db).scalars(select(User.id).where(User.email == DESK_EMAIL)).one()
    # India has a desk; Korea has none, so the BD managers take turns (the desk is one too).
    assert owners == [desk, first.id, second.id, desk]


def test_a_double_submit_creates_one_application(client, db, programme):
    fill_in(client, programme)
    token = csrf_token(client, url(programme, "/review"))

    answers = [client.post(url(programme, "/submit"),
                           data={"consent": "y", "csrf_token": token}) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [302, 302]
    assert count(db, Startup) == 1 and count(db, Enrollment) == 1
    assert count(db, OutboxMessage, OutboxMessage.dedupe_key.like("application:%")) == 1


def test_consent_is_required(client, db, programme):
    fill_in(client, programme)

    response = post_form(client, url(programme, "/submit"), {}, page=url(programme, "/review"))

    assert response.status_code == 422
    assert "Please agree" in text_of(response)
    assert count(db, Startup) == 0


def test_a_known_startup_gets_the_application_not_a_twin(client, db, programme):
    known = make_startup(db, "Bengaluru Robotics", website="https://bengaluru-robotics.example",
                         domain="bengaluru-robotics.example",
                         city="Mysuru")

    fill_in(client, programme)
    submit(client, programme)

    assert count(db, Startup) == 1
    startup = fresh(db).get(Startup, known.id)
    assert startup.city == "Mysuru"  # kept, not overwritten
    assert startup.team_size == 12  # empty before: filled in
    assert the_application(db).startup_id == known.id
    assert count(db, Contact, Contact.startup_id == known.id) >= 1


def test_a_refusal_of_the_engine_leaves_nothing_behind(client, db, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL)
    gated = definition(intake=INTAKE)
    gated["stages"][1]["gate"] = {"startup_fields": ["funding_stage"]}
    programme = make_programme(db, gated)
    fill_in(client, programme, company={**COMPANY, "funding_stage": ""})

    response = submit(client, programme)

    assert response.status_code == 409
    assert "Funding stage" in text_of(response) or "funding" in text_of(response).lower()
    assert count(db, Startup) == 0 and count(db, Enrollment) == 0
    assert the_application(db).status == ApplicationStatus.DRAFT


def test_a_failure_on_the_last_step_leaves_no_partial_startup(client, db, programme,
                                                             monkeypatch):
    fill_in(client, programme)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the mail template broke")

    monkeypatch.setattr("crm.intake.submission._confirm_to_applicant", broken)
    response = submit(client, programme)

    assert response.status_code == 500

    assert count(db, Startup) == 0 and count(db, Contact) == 0 and count(db, Enrollment) == 0
    assert the_application(db).status == ApplicationStatus.DRAFT


def test_a_submit_after_the_programme_closed_is_refused(client, db, programme):
    fill_in(client, programme)
    make_programme(db, definition(intake={**INTAKE, "closes_on": "2020-01-31"}))

    response = submit(client, programme)

    assert response.status_code == 409
    assert "not taking applications" in text_of(response)
    assert count(db, Startup) == 0
    assert "not taking applications" in text_of(client.get(url(programme)))


# Withdrawing ----------------------------------------------------------------------------------


def test_withdrawing_deletes_answers_address_and_documents(client, db, programme):
    fill_in(client, programme)
    document = fresh(db).scalars(select(Document)).one()
    stored_file = path_of_in(client, document)

    confirm = client.get(url(programme, "/withdraw"))
    assert "cannot be undone" in text_of(confirm)
    response = post_form(client, url(programme, "/withdraw"))

    assert response.status_code == 200
    application = the_application(db)
    assert application.status == ApplicationStatus.WITHDRAWN
    assert application.answers == {} and application.email is None
    assert count(db, Document) == 0 and not stored_file.exists()
    assert client.get(url(programme, "/company")).status_code == 302


def test_a_programme_question_on_the_people_step_is_kept(client, db, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL, name="India Desk")
    asked_with_people = {**INTAKE, "questions": [{
        "key": "visa_held", "step": "people", "kind": "yes_no",
        "label": {"en": "Does anyone hold an EU visa?", "de": "Hat jemand ein EU-Visum?"}}]}
    programme = make_programme(db, definition(intake=asked_with_people))
    assert start(client, programme).status_code == 302
    company = {name: value for name, value in COMPANY.items() if name != "q_incubator"}
    assert post_form(client, url(programme, "/company"), company).status_code == 302

    response = post_form(client, url(programme, "/people"),
                         {**PEOPLE, "q_visa_held": "yes"})

    assert response.status_code == 302, text_of(response)
    people = the_application(db).answers["people"]
    assert people["q_visa_held"] == "yes"
    assert people["people"][0]["email"] == "ananya@bengaluru-robotics.example"
