"""A BD manager takes a Bengaluru startup through the whole Corridor programme in the browser.

Set E2E_SCREENSHOTS to a folder to keep a picture of each step (docs/screenshots holds them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from crm.core.enums import Role
from crm.programmes.services import load_directory
from tests.e2e.conftest import login_in_browser
from tests.factories import make_startup

CHECKLIST = ["Registration of address (Anmeldung)", "Residence permit or visa",
             "Company registration (Gewerbeanmeldung / Handelsregister)", "Tax number",
             "Business bank account", "Health insurance", "Office address"]


@pytest.fixture
def corridor_startup(app, make_user):
    owner = make_user(Role.BD_MANAGER, name="Priya Raghavan")
    with Session(app.extensions["db_engine"]) as db:
        load_directory(db)
        startup = make_startup(db, "Aarogya Sense", website="https://aarogyasense.example",
                               city="Bengaluru", team_size=12, owner_id=owner.id)
        db.commit()
        return owner, startup.id


class Steps:
    """Clicks on the startup page, with a screenshot per step when asked for."""

    def __init__(self, page: Page):
        self.page = page
        self.folder = os.environ.get("E2E_SCREENSHOTS")
        self.count = 0

    def shot(self, name: str) -> None:
        if self.folder:
            self.count += 1
            Path(self.folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=f"{self.folder}/journey-{self.count:02d}-{name}.png",
                                 full_page=True)

    def move_to(self, stage: str) -> None:
        self.page.get_by_role("button", name=stage, exact=True).click()

    def tick(self, item: str) -> None:
        self.item_button("Tick as done", item).click()
        expect(self.item_button("Reopen", item)).to_be_visible()

    def item_button(self, action: str, item: str):
        """A checklist button: the action, then (for screen readers) the item it is for."""
        return self.page.get_by_role("button").filter(has_text=action).filter(
            has_text=f": {item}")


def test_a_startup_goes_from_lead_to_landed(page, live_server, corridor_startup):
    owner, startup_id = corridor_startup
    steps = Steps(page)
    login_in_browser(page, live_server, owner.email)
    page.goto(f"{live_server}/startups/{startup_id}")

    corridor = "Karnataka–Düsseldorf Innovation Corridor"
    page.locator("#enroll-programme").select_option(label=corridor)
    page.get_by_role("button", name="Enroll").click()
    expect(page.locator('[aria-current="step"]')).to_have_text(re.compile("Lead"))
    steps.shot("enrolled")

    for stage in ("First contact", "Intake received"):
        steps.move_to(stage)
        expect(page.locator('[aria-current="step"]')).to_have_text(re.compile(stage))

    steps.move_to("Qualified")  # the gate asks who referred the startup
    expect(page.get_by_text("Missing: Referred by")).to_be_visible()
    expect(page.locator('[aria-current="step"]')).to_have_text(re.compile("Intake received"))
    steps.shot("refused")
    page.get_by_label("Referred by").select_option("karnataka")
    page.get_by_role("button", name="Save", exact=True).click()
    steps.move_to("Qualified")
    expect(page.locator('[aria-current="step"]')).to_have_text(re.compile("Qualified"))

    steps.move_to("Landing support")  # needs the address registration first
    expect(page.get_by_text("Missing: Registration of address (Anmeldung)")).to_be_visible()
    steps.tick(CHECKLIST[0])
    steps.move_to("Landing support")
    expect(page.locator('[aria-current="step"]')).to_have_text(re.compile("Landing support"))
    steps.shot("landing-support")

    for item in CHECKLIST[1:]:
        steps.tick(item)
    expect(page.get_by_text("7 of 7 settled")).to_be_visible()
    page.get_by_text("Close this enrollment").click()
    page.get_by_label("Outcome").select_option("landed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close enrollment").click()
    expect(page.locator(".enrollment .badge-landed")).to_be_visible()
    expect(page.locator(".page-head .badge-landed")).to_have_text("Landed")  # the startup too
    steps.shot("landed")
