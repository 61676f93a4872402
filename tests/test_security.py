"""Session renewal, cookie flags, CSRF on every form, security headers, the login limit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import select

from crm import create_app
from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.users.models import User
from tests.conftest import TEST_PASSWORD, csrf_token, login

SESSION_COOKIE = "landing_desk_session"
CSRF_MESSAGE = ("This form has expired or was sent from elsewhere. "
                "Please reload the page and try again.")


def variant_app(app: Flask, settings, **changes) -> Iterator[Flask]:
    """Another app on the same test database (`app` empties the tables afterwards)."""
    other = create_app(settings.model_copy(update=changes))
    yield other
    other.extensions["db_engine"].dispose()


@pytest.fixture
def limited_app(app, settings) -> Iterator[Flask]:
    yield from variant_app(app, settings, login_rate_limit="3 per minute")


def assert_error_page(response, status: int, text: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert '<section class="error-page">' in page and 'class="brand"' in page
    assert str(escape(text)) in page
    return page


def german(app: Flask, msgid: str) -> str:
    """The German translation; failing here means the catalogue lacks it."""
    with app.test_request_context(), force_locale("de"):
        text = gettext(msgid)
    assert text != msgid, f"no German translation for {msgid!r}"
    return text


def set_cookie_headers(response) -> list[str]:
    return [value for name, value in response.headers if name.lower() == "set-cookie"]


# --- the session at login -----------------------------------------------------------------------


def test_login_renews_the_session_and_drops_what_was_in_it(client, make_user):
    user = make_user(Role.VIEWER)
    token = csrf_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by someone before login"
        csrf_before = session["csrf_token"]
    cookie_before = client.get_cookie(SESSION_COOKIE).value

    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                           "csrf_token": token})

    assert response.status_code == 302
    assert client.get_cookie(SESSION_COOKIE).value != cookie_before
    client.get("/tasks/")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{user.id}:{user.session_version}"
        assert session.get("csrf_token") not in (None, csrf_before)


def test_the_old_csrf_token_does_not_work_after_login(client, make_user):
    user = make_user(Role.VIEWER)
    old_token = csrf_token(client)
    login(client, user.email)

    response = client.post("/logout", data={"csrf_token": old_token})

    assert_error_page(response, 400, CSRF_MESSAGE)
    assert client.get("/tasks/").status_code == 200  # still logged in


def test_forms_work_on_the_first_page_after_login(client, make_user, db):
    user = make_user(Role.VIEWER)
    login(client, user.email)

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks/")})

    assert response.status_code == 302
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.logout"))


def test_a_forged_session_for_another_user_is_nobody(client, make_user):
    user = make_user(Role.ADMIN)
    csrf_token(client)
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:{user.session_version + 1}"

    response = client.get("/admin/users")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- cookies and headers (test_headers.py: on every kind of answer, over HTTP and HTTPS) -------


def test_login_cookie_after_login_keeps_the_flags(client, make_user):
    user = make_user(Role.VIEWER)
    response = login(client, user.email)

    [cookie] = set_cookie_headers(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember" not in " ".join(set_cookie_headers(response))


def assert_security_headers(response) -> None:
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


# --- CSRF ---------------------------------------------------------------------------------------


def post_endpoints(app: Flask) -> list[str]:
    """A URL for every route that accepts POST, with 1 for every path argument (a step of the
    application form for `step`, which takes only step names). Not the JSON API's: it reads no
    cookie, so a forged cross-site request has nothing to ride on (test_api_access.py shows a
    session does not open it)."""
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "POST" not in rule.methods or rule.endpoint.startswith("api."):
                continue
            arguments = {name: "company" if name == "step" else 1 for name in rule.arguments}
            urls.append(url_for(rule.endpoint, **arguments))
    return urls


def test_every_form_is_protected_by_csrf(app, client_as, db):
    client, admin = client_as(Role.ADMIN)
    urls = post_endpoints(app)
    assert {"/login", "/logout", "/locale", "/admin/users/invite", "/admin/users/1/role",
            "/admin/users/1/deactivate", "/admin/users/1/activate"} <= set(urls)

    for url in urls:
        data = {"email": "new@desk.example", "name": "New", "role": "viewer", "locale": "de",
                "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
        without = client.post(url, data=data)
        forged = client.post(url, data={**data, "csrf_token": "forged-token"})
        for response in (without, forged):
            try:
                assert_error_page(response, 400, CSRF_MESSAGE)
            except AssertionError as error:
                raise AssertionError(f"POST {url}: {error}") from error

    assert client.get("/tasks/").status_code == 200  # still logged in: logout was refused
    admin_now = db.get(User, admin.id)
    assert (admin_now.role, admin_now.is_active, admin_now.locale) == ("admin", True, "en")
    assert db.scalar(select(User).where(User.email == "new@desk.example")) is None


def test_a_csrf_token_of_another_session_is_refused(app, client, make_user):
    user = make_user(Role.VIEWER)
    stranger = app.test_client()
    token_of_stranger = csrf_token(stranger)
    csrf_token(client)

    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                           "csrf_token": token_of_stranger})

    assert_error_page(response, 400, CSRF_MESSAGE)
    assert client.get("/tasks/").status_code == 302


def test_csrf_page_is_in_german_for_a_german_browser(app, client):
    response = client.post("/login", data={"email": "x@desk.example", "password": "x"},
                           headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})

    page = assert_error_page(response, 400, german(app, CSRF_MESSAGE))
    assert '<html lang="de">' in page


def test_csrf_page_is_in_german_after_switching_the_language(app, client):
    switched = client.post("/locale", data={"locale": "de", "next": "/login",
                                            "csrf_token": csrf_token(client)})
    assert switched.status_code == 302

    response = client.post("/login", data={"email": "x@desk.example", "password": "x"},
                           headers={"Accept-Language": "en"})

    page = assert_error_page(response, 400, german(app, CSRF_MESSAGE))
    assert german(app, "Bad request") in page


def test_csrf_page_is_in_the_language_a_user_chose(app, client_as):
    client, _ = client_as(Role.MANAGER)
    client.post("/locale", data={"locale": "de", "next": "/tasks/",
                                 "csrf_token": csrf_token(client, "/tasks/")})

    response = client.post("/logout", data={})

    assert_error_page(response, 400, german(app, CSRF_MESSAGE))


def test_csrf_refusal_asks_json_clients_in_json(client):
    response = client.post("/login", data={}, headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert response.get_json() == {"error": "Bad request", "message": CSRF_MESSAGE}


# --- rate limit on login -----------------------------------------------------------------------


def attempt(client, email: str, password: str, address: str):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client)},
                       environ_overrides={"REMOTE_ADDR": address})


def test_login_is_rate_limited_with_our_page(limited_app, make_user, db):
    user = make_user(Role.VIEWER)
    client = limited_app.test_client()
    address = "198.51.100.7"

    statuses = [attempt(client, user.email, "wrong password here", address).status_code
                for _ in range(3)]
    blocked = attempt(client, user.email, TEST_PASSWORD, address)  # even the right one

    assert statuses == [200, 200, 200]
    page = assert_error_page(blocked, 429, "Too many requests in a short time.")
    assert "Too many attempts" in page
    assert int(blocked.headers["Retry-After"]) > 0
    assert_security_headers(blocked)
    assert client.get("/tasks/").status_code == 302  # not logged in
    assert client.get("/login", environ_overrides={"REMOTE_ADDR": address}).status_code == 200

    other_address = attempt(limited_app.test_client(), user.email, TEST_PASSWORD,
                            "198.51.100.8")
    assert other_address.status_code == 302

    failed = db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert [event.ip_address for event in failed] == [address] * 3


def test_rate_limit_page_is_in_german_for_a_german_browser(app, limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        attempt(client, "nobody@desk.example", "wrong", "198.51.100.9")

    blocked = client.post("/login", data={"email": "nobody@desk.example", "password": "wrong",
                                          "csrf_token": csrf_token(client)},
                          environ_overrides={"REMOTE_ADDR": "198.51.100.9"},
                          headers={"Accept-Language": "de"})

    assert_error_page(blocked, 429, german(
        app, "Too many requests in a short time. Please wait a minute and try again."))


def test_setting_a_password_from_an_invitation_is_rate_limited(limited_app):
    client = limited_app.test_client()
    token = csrf_token(client)
    statuses = [
        client.post("/invitation/not-a-token", data={"csrf_token": token},
                    environ_overrides={"REMOTE_ADDR": "198.51.100.10"}).status_code
        for _ in range(4)
    ]

    assert statuses == [404, 404, 404, 429]


# --- error pages --------------------------------------------------------------------------------


def test_unknown_url_is_a_404_in_our_layout(client):
    page = assert_error_page(client.get("/no/such/page"), 404,
                             "There is nothing at this address.")

    assert "Go to the login page" in html.unescape(page)


def test_unknown_url_for_a_logged_in_user_keeps_the_navigation(client_as):
    client, user = client_as(Role.BD_MANAGER)

    page = assert_error_page(client.get("/startups/not-a-number"), 404, "Not found")

    assert user.name in page and 'href="/tasks/"' in page
    assert re.search(r"Traceback|werkzeug", page) is None


def test_a_too_large_request_is_a_413_page(client):
    response = client.post("/login", data={"email": "x" * (21 * 1024 * 1024)})

    assert_error_page(response, 413, "What you sent is too large.")
