"""An admin requires two-factor sign-in; a BD manager is held at the set-up, scans the key,
keeps the recovery codes and signs in with a code from then on."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from crm.core.enums import Role
from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import login_in_browser


def test_required_two_factor_from_set_up_to_sign_in(page, live_server, make_user):
    admin = make_user(Role.ADMIN, name="Anika Admin")
    manager = make_user(Role.BD_MANAGER, name="Priya Rao")

    login_in_browser(page, live_server, admin.email)
    page.goto(live_server + "/admin/users")
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Security").click()
    page.get_by_label("Require two-factor sign-in for all staff").check()
    page.get_by_role("button", name="Save Two-factor sign-in").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))  # the admin too, from now on
    page.get_by_role("button", name="Log out").click()

    login_in_browser_held(page, live_server, manager.email)
    expect(page.get_by_text("The desk requires two-factor sign-in for all staff.")).to_be_visible()
    page.get_by_role("button", name="Begin").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("code.secret-key").inner_text()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code").fill("000000")
    page.get_by_label("Current password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("This code is not right.")).to_be_visible()

    page.get_by_label("Code").fill(totp.now())
    page.get_by_label("Current password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_text("10 recovery codes left.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the code just used works once
    page.get_by_label("Code").press("Enter")
    expect(page).to_have_url(re.compile(r"/work/$"))


def login_in_browser_held(page, live_server: str, email: str) -> None:
    """Password only: someone without two-factor lands on its set-up page."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server + "/work/")
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
