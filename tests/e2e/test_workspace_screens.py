"""The BD manager's workspace with the demo data, as a person sees it in Chromium.

Set E2E_SCREENSHOTS to a folder to keep a picture of each page (docs/screenshots holds them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from crm.db import unit_of_work
from crm.demo.data import DEMO_PASSWORD, DEMO_USERS
from crm.demo.loader import load_demo_data

PRIYA = next(user for user in DEMO_USERS if user.name == "Priya Raghavan")


@pytest.fixture
def demo(app) -> None:
    with app.app_context(), unit_of_work() as session:
        load_demo_data(session)


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def test_list_board_startup_page_and_my_work_with_demo_data(page, live_server, demo):
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(PRIYA.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/work/$"))
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    shot(page, "my-work")

    page.goto(live_server + "/?owner=me&sort=name")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 3
    shot(page, "startups")

    page.set_viewport_size({"width": 2300, "height": 900})  # every column of the board
    page.goto(live_server + "/pipeline/?programme=karnataka_corridor")
    expect(page.get_by_role("heading", name=re.compile("Karnataka"))).to_be_visible()
    assert page.locator(".board-card").count() > 3
    shot(page, "pipeline")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(live_server + "/?owner=me&sort=name")
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    shot(page, "startup")


def test_weekly_report_as_the_outbox_shows_it_and_the_reports_page(page, live_server, demo):
    """The demo queues last week's report for its subscribers; with no SMTP server the admin
    reads it, rendered with its inline chart, on the Outbox page."""
    admin = next(user for user in DEMO_USERS if user.role == "admin")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/work/$"))

    page.goto(live_server + "/admin/outbox/")
    page.get_by_role("link", name=re.compile(r"^Pipeline report for week \d+")).first.click()
    email = page.frame_locator("iframe.email-preview")
    expect(email.get_by_role("heading", name="Pipeline").first).to_be_visible()
    chart = email.locator("img").first
    expect(chart).to_be_visible()
    assert chart.evaluate("image => image.complete && image.naturalWidth") > 600
    shot(page, "outbox-weekly-report")
    page.goto(live_server + page.locator("iframe.email-preview").get_attribute("src"))
    shot(page, "weekly-report-email")

    page.goto(live_server + "/reports/")
    expect(page.locator(".report-section").first).to_be_visible()
    shot(page, "reports")
