"""The /api/v1 framework itself: tokens (missing, unknown, expired, revoked, wrong scope), bodies
(size, type, JSON, fields), the rate limit per token, no cookie or session, no CORS, every error
a problem details body, unknown paths and methods too; and the docs page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from crm.api import tokens
from crm.api.blueprint import MAX_BODY_BYTES
from crm.api.models import ApiToken
from crm.api.problems import PROBLEM_JSON
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_session
from crm.users.models import StaffSession, User
from tests.api import issue_token
from tests.conftest import fresh

STARTUPS = "/api/v1/startups"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"]
    return body


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer ldt_unknown_x",
                                    "Bearer not-even-ours"])
def test_no_or_an_unknown_token_is_401_with_a_challenge(client, header):
    response = client.get(STARTUPS, headers={"Authorization": header} if header else {})
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="landing-desk"')


def test_an_expired_token_is_401(app, api_as, clock):
    caller = api_as(Role.MANAGER)
    assert caller.get(STARTUPS).status_code == 200
    clock(utcnow() + timedelta(days=30, seconds=1))
    response = caller.get(STARTUPS)
    assert problem(response, 401)["type"].endswith("invalid-token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_revoked_token_is_401(app, api_as):
    caller = api_as(Role.MANAGER)
    assert caller.get(STARTUPS).status_code == 200
    with app.app_context():
        db = get_session()
        token = db.scalar(select(ApiToken).where(ApiToken.user_id == caller.user.id))
        tokens.revoke_token(db, token, db.get(User, caller.user.id))
        db.commit()
    problem(caller.get(STARTUPS), 401)


def test_a_read_token_may_not_write(api_as):
    caller = api_as(Role.MANAGER, scopes=("read",))
    response = caller.post(STARTUPS, json={"name": "Readonly", "country": "IN"})
    assert problem(response, 403)["type"].endswith("insufficient-scope")
    assert 'scope="write"' in response.headers["WWW-Authenticate"]


def test_a_body_over_1_mib_is_413(api_as):
    caller = api_as(Role.MANAGER)
    body = '{"name": "' + "x" * MAX_BODY_BYTES + '", "country": "IN"}'
    response = caller.post(STARTUPS, data=body, content_type="application/json")
    problem(response, 413)


def test_a_body_that_is_not_json_is_415(api_as):
    caller = api_as(Role.MANAGER)
    response = caller.post(STARTUPS, data="name=Acme&country=IN",
                           content_type="application/x-www-form-urlencoded")
    problem(response, 415)


def test_malformed_json_is_400(api_as):
    caller = api_as(Role.MANAGER)
    response = caller.post(STARTUPS, data='{"name": "Acme",', content_type="application/json")
    assert problem(response, 400)["type"].endswith("malformed-json")


def test_unknown_fields_and_wrong_types_are_422_with_the_fields_at_fault(api_as):
    caller = api_as(Role.MANAGER)
    response = caller.post(STARTUPS, json={"name": "Acme", "country": "IN", "colour": "red",
                                           "team_size": "many"})
    body = problem(response, 422)
    fields = {error["field"]: error["code"] for error in body["errors"]}
    assert fields == {"body.colour": "extra_forbidden", "body.team_size": "int_parsing"}
    boolean = problem(caller.post(STARTUPS, json={"name": "Acme", "country": "IN",
                                                  "team_size": True}), 422)
    assert [(error["field"], error["code"]) for error in boolean["errors"]] == [
        ("body.team_size", "number_type")]  # not read as 1
    query = problem(caller.get(STARTUPS + "?limit=0"), 422)
    assert [error["field"] for error in query["errors"]] == ["query.limit"]


@pytest.fixture
def settings(settings, request):
    limit = getattr(request, "param", None)
    return settings.model_copy(update={"api_rate_limit": limit}) if limit else settings


@pytest.mark.parametrize("settings", ["3 per minute"], indirect=True)
def test_the_rate_limit_counts_per_token(api_as):
    first, second = api_as(Role.MANAGER), api_as(Role.BD_MANAGER)
    for _ in range(3):
        assert first.get(STARTUPS).status_code == 200
    refused = first.get(STARTUPS)
    problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert second.get(STARTUPS).status_code == 200  # another token has its own count


def test_no_cookie_no_session_and_no_cors(app, api_as, db):
    caller = api_as(Role.MANAGER)
    origin = {"Origin": "https://evil.example"}
    for response in (caller.get(STARTUPS, headers=origin),
                     caller.post(STARTUPS, json={"name": "Cookieless", "country": "IN"},
                                 headers=origin),
                     caller.client.get(STARTUPS), caller.client.get("/api/v1/docs"),
                     caller.client.options(STARTUPS, headers={
                         **origin, "Access-Control-Request-Method": "POST"})):
        assert "Set-Cookie" not in response.headers, response.status_code
        assert not any(name.lower().startswith("access-control-")
                       for name, _value in response.headers)
    assert fresh(db).scalar(select(func.count()).select_from(StaffSession)) == 0


def test_every_error_is_a_problem_even_without_a_route(api_as):
    caller = api_as(Role.MANAGER)
    problem(caller.get("/api/v1/no-such-thing"), 404)
    problem(caller.get(STARTUPS + "/2147483647"), 404)
    not_allowed = caller.delete(STARTUPS)
    problem(not_allowed, 405)
    assert set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "<html" not in caller.get("/api/v2/startups").get_data(as_text=True)


def test_the_last_use_is_recorded(api_as, db):
    caller = api_as(Role.MANAGER)
    assert fresh(db).scalar(select(ApiToken.last_used_at)) is None
    assert caller.get(STARTUPS).status_code == 200
    assert fresh(db).scalar(select(ApiToken.last_used_at)) is not None


def test_a_deactivated_users_token_is_401(app, api_as, make_user):
    from crm.users import services

    caller, admin = api_as(Role.BD_MANAGER), make_user(Role.ADMIN)
    with app.app_context():
        db = get_session()
        services.set_active(db, db.get(User, caller.user.id), False, db.get(User, admin.id))
        db.commit()
    problem(caller.get(STARTUPS), 401)


def test_the_docs_page_describes_every_operation_and_schema(app, client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Set-Cookie" not in response.headers
    page = response.get_data(as_text=True)
    document = app.api_doc
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f"<code>{method.upper()} {path}</code>" in page
            assert str(escape(operation["summary"])) in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    anchors = set(re.findall(r'id="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= anchors  # no dangling link
    for words in ("Authorization: Bearer ldt_", "application/problem+json", "next_cursor",
                  "If-Match", "Retry-After", "<script>"):
        assert (words in page) is (words != "<script>"), words


def test_a_token_for_a_viewer_cannot_have_write(app, make_user):
    viewer = make_user(Role.VIEWER)
    with pytest.raises(tokens.TokenRefused):
        issue_token(app, viewer, ("read", "write"))
