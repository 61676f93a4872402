"""Helpers for the sign-in tests: setting up two-factor through the pages, and its codes."""

from __future__ import annotations

import re
from datetime import datetime

import pyotp
from flask.testing import FlaskClient

from tests.conftest import TEST_PASSWORD, csrf_token, login

MOMENT = datetime.fromisoformat("2026-11-20T09:00:00+00:00")


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def set_up_two_factor(client: FlaskClient, moment: datetime = MOMENT) -> tuple[str, list[str]]:
    """Through the pages, as the logged-in client: the secret shown and the recovery codes."""
    token = csrf_token(client, "/account/two-factor")
    assert client.post("/account/two-factor/start", data={"csrf_token": token}).status_code == 302
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret-key">([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/account/two-factor", data={
        "csrf_token": token, "code": code_at(secret, moment), "current_password": TEST_PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>",
                       response.get_data(as_text=True))
    return secret, codes


def log_in_with_code(client: FlaskClient, email: str, code: str, **extra):
    """Password, then the code page; the second answer."""
    first = login(client, email, **extra)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/code"), \
        first.get_data(as_text=True)
    return client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"),
                                            "code": code})
