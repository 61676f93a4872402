"""A staff member logs in, switches to German, finds the demo pages and logs out."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.core.enums import Role
from tests.conftest import TEST_PASSWORD


def test_login_switch_language_navigate_logout(page, live_server, make_user):
    admin = make_user(Role.ADMIN, name="Anika Admin")
    page.goto(live_server + "/tasks/")
    expect(page).to_have_url(re.compile(r"/login\?next=/tasks/"))

    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong email address or password.")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(admin.email)

    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks/$"))
    expect(page.get_by_role("heading", name="My open tasks")).to_be_visible()

    page.get_by_label("Language").select_option("de")  # submits itself
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    page.get_by_role("link", name="Startups").click()
    expect(page.get_by_text("Noch keine Startups.")).to_be_visible()
    page.get_by_role("link", name="Verwaltung").click()
    expect(page.get_by_role("cell", name=admin.email)).to_be_visible()

    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_text("Sie haben sich abgemeldet.")).to_be_visible()
    page.goto(live_server + "/admin/users")
    expect(page).to_have_url(re.compile(r"/login"))
