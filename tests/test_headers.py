"""Security headers, caching and cookies on every kind of answer, over HTTP (development) and
HTTPS (production); no page carries markup the Content-Security-Policy would block."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm import create_app
from crm.core.enums import Role
from tests import test_route_matrix
from tests.conftest import csrf_token, login
from tests.page_forms import get_urls, read_page
from tests.test_route_matrix import CLIENT_USER

world = test_route_matrix.world  # the fixture: two BD managers' records of every kind

HTTPS_HOST = "desk.example"


@pytest.fixture(params=["development", "production"])
def deployment(request, app, settings) -> Iterator[tuple[str, Flask]]:
    """The app as run over HTTP, or as in production behind HTTPS (same database)."""
    if request.param == "development":
        yield request.param, app
        return
    other = create_app(settings.model_copy(update={"base_url": f"https://{HTTPS_HOST}"}))
    yield request.param, other
    other.extensions["db_engine"].dispose()


def client_of(app: Flask, https: bool) -> FlaskClient:
    client = app.test_client()
    if https:
        client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": HTTPS_HOST})
    return client


def logged_in(app: Flask, email: str, https: bool) -> FlaskClient:
    client = client_of(app, https)
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def set_cookies(response) -> list[str]:
    return [value for name, value in response.headers if name.lower() == "set-cookie"]


def assert_protective_headers(response, https: bool) -> None:
    headers = response.headers
    directives = dict(part.strip().split(" ", 1)
                      for part in headers["Content-Security-Policy"].split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    if https:
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in headers


def test_every_kind_of_answer_has_the_headers_and_is_never_stored(deployment, world):
    name, app = deployment
    https = name == "production"
    staff = logged_in(app, world.users["bd"].email, https)
    anonymous = client_of(app, https)
    own = world.of("own")
    answers = {
        "staff page": staff.get(f"/startups/{own['startup']}"),
        "intake page": anonymous.get(f"/apply/{world.programme_key}"),
        "login page": anonymous.get("/login"),
        "not found page": staff.get("/no/such/page"),
        "forbidden page": staff.get("/admin/users"),
        "form refused": anonymous.post("/login", data={"email": "x@desk.example"}),
        "download": staff.get(f"/documents/{own['document']}"),
        "json": anonymous.get("/healthz"),
        "redirect": anonymous.get("/tasks/"),
    }
    assert {kind: answer.status_code for kind, answer in answers.items()} == {
        "staff page": 200, "intake page": 200, "login page": 200, "not found page": 404,
        "forbidden page": 403, "form refused": 400, "download": 200, "json": 200,
        "redirect": 302}
    assert answers["json"].is_json
    for kind, answer in answers.items():
        try:
            assert_protective_headers(answer, https)
            assert answer.headers["Cache-Control"] == "no-store"
        except (AssertionError, KeyError) as error:
            raise AssertionError(f"{kind}: {error!r}") from error
        answer.close()


def test_an_unexpected_error_page_has_the_headers(settings):
    app = create_app(settings)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom")

    assert response.status_code == 500
    assert "a bug" not in response.get_data(as_text=True)
    assert_protective_headers(response, https=False)
    assert response.headers["Cache-Control"] == "no-store"
    app.extensions["db_engine"].dispose()


def test_static_files_keep_their_caching_and_get_nosniff(deployment):
    name, app = deployment
    response = client_of(app, name == "production").get("/static/app.css")

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert_protective_headers(response, name == "production")
    response.close()


def test_session_cookie_over_https_is_a_host_cookie(deployment, make_user):
    name, app = deployment
    https = name == "production"
    client = logged_in(app, make_user(Role.VIEWER).email, https)

    page = client.get("/tasks/")  # the session cookie works: still logged in
    response = client.post("/locale", data={"locale": "de", "next": "/tasks/",
                                            "csrf_token": csrf_token(client, "/tasks/")})

    assert page.status_code == 200 and response.status_code == 302
    [cookie] = set_cookies(response)
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes and "Path=/" in attributes
    assert not any(part.lower().startswith("domain=") for part in attributes)
    if https:
        assert cookie.startswith("__Host-landing_desk_session=") and "Secure" in attributes
        assert app.config["REMEMBER_COOKIE_NAME"].startswith("__Host-")
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
    else:
        assert cookie.startswith("landing_desk_session=") and "Secure" not in attributes
        assert app.config["REMEMBER_COOKIE_NAME"] == "landing_desk_remember"


def test_no_page_has_markup_the_csp_blocks(app, world):
    """Every page staff (admin and BD manager) or applicants can open, including the steps of
    an application in progress: no inline script, event handler, style or javascript: URL."""
    admin = logged_in(app, world.users["admin"].email, https=False)
    bd = logged_in(app, world.users["bd"].email, https=False)
    applicant = app.test_client()
    key = world.programme_key
    started = applicant.post(f"/apply/{key}/start", data={
        "email": "applicant@new.example", "csrf_token": csrf_token(applicant, f"/apply/{key}")})
    assert started.status_code == 302
    visits = [(applicant, url) for _endpoint, url in get_urls(app, world, "anonymous")]
    visits += [(applicant, started.headers["Location"])]
    visits += [(admin, url) for _endpoint, url in get_urls(app, world, "admin")]
    visits += [(bd, url) for endpoint, url in get_urls(app, world, "bd_own")
               if endpoint.startswith(("exports.", "startup_list."))]
    blocked, pages = [], 0
    for client, url in visits:
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages += 1
            found = read_page(url, response.get_data(as_text=True)).blocked
            blocked += [f"{url}: {what}" for what in found]
        response.close()

    assert pages > 40
    assert not blocked, "\n".join(blocked)


def test_a_role_that_only_reads_sees_no_blocked_markup_either(app, world):
    """The viewer's pages render other branches (no edit forms)."""
    client = logged_in(app, world.users[CLIENT_USER[Role.VIEWER]].email, https=False)
    blocked = []
    for _endpoint, url in get_urls(app, world, "viewer"):
        response = client.get(url)
        if response.mimetype == "text/html":
            blocked += [f"{url}: {what}"
                        for what in read_page(url, response.get_data(as_text=True)).blocked]
        response.close()
    assert not blocked, "\n".join(blocked)
