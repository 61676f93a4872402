"""A founder applies in Chromium, in English and in German, resuming on a second device from the
link emailed to a real SMTP server.

Fields and buttons are found by name, id or form, not by their (translated) labels. Set
E2E_SCREENSHOTS to a folder to keep pictures of the English steps and the German company step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm.config import Settings
from crm.core.enums import EnrollmentStatus, Role
from crm.outbox.delivery import deliver_due
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup
from crm.workflow.models import Enrollment
from tests.conftest import fresh
from tests.e2e.test_workspace_screens import shot
from tests.factories import definition, make_programme
from tests.test_intake import APPLICANT, COMPANY, DESK_EMAIL, INTAKE, PDF, PEOPLE, PLANS

SECOND_PERSON = {"people-1-name": "Vikram Iyer", "people-1-role": "CTO",
                 "people-1-email": "vikram@bengaluru-robotics.example",
                 "people-1-language": "de"}


@dataclass(frozen=True)
class Journey:
    locale: str  # the browser's
    language: str  # the app's
    company_name: str
    screenshots: dict[str, str]  # moment of the journey: file name


ENGLISH = Journey("en-GB", "en", "बेंगलुरु Robotics", {
    "landing": "intake-landing", "company-error": "intake-company-error",
    "people": "intake-people", "documents": "intake-documents", "review": "intake-review",
    "done": "intake-done"})
GERMAN = Journey("de-DE", "de", "서울 Sensorik", {"company-error": "intake-company-de"})


@pytest.fixture
def site(app, live_server, smtp_server) -> Settings:
    """Emailed links point at the live server, and deliver_due sends to the test's SMTP
    server."""
    settings = app.config["SETTINGS"].model_copy(
        update={"base_url": live_server, "smtp_url": smtp_server.url})
    app.config["SETTINGS"] = settings  # read per request, so the server thread sees it
    return settings


@pytest.fixture
def programme(db, make_user):
    make_user(Role.BD_MANAGER, email=DESK_EMAIL, name="India Desk")
    return make_programme(db, definition(intake=INTAKE))


class Applicant:
    """One device of the applicant: a browser context in their language."""

    def __init__(self, browser: Browser, journey: Journey):
        self.context = browser.new_context(locale=journey.locale,
                                           viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.journey = journey

    def shot(self, moment: str) -> None:
        if moment in self.journey.screenshots:
            shot(self.page, self.journey.screenshots[moment])

    def fill(self, answers: dict) -> None:
        """Answer fields by name, as the Flask client tests post them."""
        for name, value in answers.items():
            field = self.page.locator(f'[name="{name}"]')
            kind = field.first.get_attribute("type") or field.first.evaluate(
                "element => element.tagName.toLowerCase()")
            if kind == "select":
                field.select_option(value)
            elif kind in ("checkbox", "radio"):
                for choice in [value] if isinstance(value, str) else value:
                    self.page.locator(f'[name="{name}"][value="{choice}"]').check()
            else:
                field.fill(value)

    def save_and_continue(self, next_step: str) -> None:
        self.page.locator(".form-actions button.button-primary").click()
        self.page.wait_for_url(re.compile(f"/apply/corridor/{next_step}$"))


def field_errors(page: Page, name: str):
    """The messages shown next to a field (in its own .field box)."""
    return page.locator(".field", has=page.locator(f'[name="{name}"]')).locator(".errors")


def newest_to(smtp_server, address: str, count: int):
    return [message for message in smtp_server.wait_for(count) if message["To"] == address][-1]


@pytest.mark.parametrize("journey", [ENGLISH, GERMAN], ids=["english", "german"])
def test_an_application_resumed_on_another_device(browser, live_server, db, site, programme,
                                                  smtp_server, journey):
    laptop = Applicant(browser, journey)
    page = laptop.page
    page.goto(f"{live_server}/apply/corridor")
    expect(page.locator("html")).to_have_attribute("lang", journey.language)
    laptop.shot("landing")
    start = page.locator('form[action$="/start"]')
    start.locator("[name=email]").fill(APPLICANT)
    start.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/apply/corridor/company$"))

    # A bad team size: the message sits next to the field, and everything typed stays.
    laptop.fill({**COMPANY, "name": journey.company_name, "team_size": "-1"})
    page.locator(".form-actions button.button-primary").click()
    expect(field_errors(page, "team_size")).to_be_visible()
    if journey.language == "en":
        expect(field_errors(page, "team_size")).to_have_text(
            "Enter a number of people from 1 to 100,000.")
    expect(page.locator("[name=team_size]")).to_have_value("-1")
    expect(page.locator("[name=name]")).to_have_value(journey.company_name)
    expect(page.locator("[name=city]")).to_have_value(COMPANY["city"])
    expect(page.locator("[name=q_incubator]")).to_have_value(COMPANY["q_incubator"])
    expect(page.locator("[name=country]")).to_have_value("IN")
    expect(page.locator('[name=sectors][value="MedTech"]')).to_be_checked()
    expect(page.locator(".field-error")).to_have_count(1)
    laptop.shot("company-error")
    laptop.fill({"team_size": COMPANY["team_size"]})
    laptop.save_and_continue("people")

    laptop.fill(PEOPLE)
    page.locator("button[name=add_person]").click()
    expect(page.locator("[name=people-1-name]")).to_be_visible()
    expect(page.locator("[name=people-0-name]")).to_have_value(PEOPLE["people-0-name"])
    laptop.fill(SECOND_PERSON)
    laptop.shot("people")
    laptop.save_and_continue("plans")

    laptop.fill(PLANS)
    laptop.save_and_continue("documents")
    page.locator("#file-pitch_deck").set_input_files(
        {"name": "pitch-deck.pdf", "mimeType": "application/pdf", "buffer": PDF})
    page.locator('.upload-form:has([name=kind][value=pitch_deck]) button').click()
    expect(page.locator(".uploaded li")).to_contain_text("pitch-deck.pdf")
    laptop.shot("documents")

    # "Email me a link to continue later", then the other device opens it.
    with page.expect_response(re.compile(r"/apply/corridor/link$")) as asked:
        page.locator('form[action$="/link"] button').click()
    assert asked.value.status == 302
    laptop.context.close()
    deliver_due(db, site)
    email = newest_to(smtp_server, APPLICANT, 2)
    link = re.search(r"(http://\S+/apply/resume/\S+)",
                     email.get_body(preferencelist=("plain",)).get_content()).group(1)
    assert link.startswith(live_server)

    phone = Applicant(browser, journey)
    page = phone.page
    page.goto(link)
    resume = page.locator("form button.button-primary")
    if journey.language == "en":
        expect(resume).to_have_text("Continue my application")
    resume.click()
    page.wait_for_url(re.compile(r"/apply/corridor/documents$"))
    expect(page.locator(".uploaded li")).to_contain_text("pitch-deck.pdf")
    phone.save_and_continue("review")
    answers = page.locator(".answers")
    for shown in (journey.company_name, "https://bengaluru-robotics.example", "Bengaluru",
                  "MedTech", "Ananya Rao", "Vikram Iyer", "pitch-deck.pdf"):
        expect(answers.filter(has_text=shown).first).to_be_visible()
    phone.shot("review")
    page.locator("#consent").check()
    page.locator('form[action$="/submit"] button.button-primary').click()
    page.wait_for_url(re.compile(r"/apply/corridor/done$"))
    expect(page.locator("html")).to_have_attribute("lang", journey.language)
    if journey.language == "en":
        expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you")
    phone.shot("done")
    phone.context.close()

    deliver_due(db, site)
    confirmation = newest_to(smtp_server, APPLICANT, 4)  # two links, the confirmation, the desk
    assert confirmation["Content-Language"] == journey.language
    if journey.language == "en":
        assert confirmation["Subject"] == "We have received your application to Corridor"
        assert journey.company_name in confirmation.get_body(
            preferencelist=("plain",)).get_content()
    queued = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.like("application:%:confirmation"))).one()
    assert queued.locale == journey.language and queued.to_address == APPLICANT
    startup = db.scalars(select(Startup)).one()
    assert startup.name == journey.company_name
    assert APPLICANT in db.scalars(select(Contact.email)
                                   .where(Contact.startup_id == startup.id)).all()
    enrollment = db.scalars(select(Enrollment)).one()
    assert enrollment.startup_id == startup.id
    assert enrollment.stage == "intake" and enrollment.status == EnrollmentStatus.OPEN
