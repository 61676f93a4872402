"""The /api/v1 blueprint: every request authenticated by a bearer token with the scope its
method needs, rate limited per token, bodies read as JSON of at most 1 MiB; every error a
problem details body (crm/api/problems.py)."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, g, request, session
from flask_openapi3 import APIBlueprint, Tag
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from crm.api import tokens
from crm.api.problems import ApiProblem, FieldError, from_exception
from crm.db import get_session
from crm.extensions import limiter
from crm.users.models import User

MAX_BODY_BYTES = 1024 * 1024
BEARER = "bearerAuth"
SECURITY = [{BEARER: []}]
SECURITY_SCHEMES = {BEARER: {"type": "http", "scheme": "bearer",
                             "description": "An API token from Account → API tokens."}}
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Endpoints anyone may read: the description of the API and its docs page.
PUBLIC_ENDPOINTS = {"api.openapi_json", "api.docs"}

api = APIBlueprint("api", __name__, url_prefix="/api/v1", abp_security=SECURITY)


def tag(name: str, description: str) -> list[Tag]:
    return [Tag(name=name, description=description)]


def _rate_limit_key() -> str:
    """The presented token (hashed: keys are stored), else the caller's address."""
    presented = _presented_token()
    if presented:
        return "token:" + hashlib.sha256(presented.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "-")


def _rate_limit() -> str:
    return current_app.config["SETTINGS"].api_rate_limit


limiter.limit(_rate_limit, key_func=_rate_limit_key)(api)


def _presented_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@api.before_request
def _authenticate() -> None:
    """The token's user becomes `current_user` for this request (no session, no cookie)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    presented = _presented_token()
    if presented is None:
        raise ApiProblem(401, "Send an API token: Authorization: Bearer <token>.",
                         kind="unauthenticated",
                         headers={"WWW-Authenticate": 'Bearer realm="landing-desk"'})
    found = tokens.authenticate(get_session(), presented)
    if found is None:
        raise ApiProblem(401, "The token is unknown, expired or revoked.", kind="invalid-token",
                         headers={"WWW-Authenticate":
                                  'Bearer realm="landing-desk", error="invalid_token"'})
    needed = tokens.READ if request.method in _READ_METHODS else tokens.WRITE
    if not tokens.has_scope(found.token, needed):
        raise ApiProblem(403, f"This token lacks the {needed} scope.", kind="insufficient-scope",
                         headers={"WWW-Authenticate":
                                  f'Bearer realm="landing-desk", error="insufficient_scope", '
                                  f'scope="{needed}"'})
    g.api_token = found.token
    g._login_user = found.user  # Flask-Login's slot: current_user for services and audit


@api.before_request
def _read_json_body() -> None:
    """A body must be JSON (parsed here, once): too large is 413, malformed 400."""
    if request.method in _READ_METHODS or request.endpoint in PUBLIC_ENDPOINTS:
        return
    request.max_content_length = MAX_BODY_BYTES
    too_large = ApiProblem(413, "The body is larger than 1 MiB.", kind="too-large")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return  # no body: the operation's model says whether it needs one
    if not request.is_json:
        raise ApiProblem(415, "Send the body as application/json.", kind="unsupported-media-type")
    try:
        body = request.get_json()
    except RequestEntityTooLarge:
        raise too_large from None
    except BadRequest:
        raise ApiProblem(400, "The body is not valid JSON.", kind="malformed-json") from None
    where = _nul_at(body)
    if where is not None:
        raise ApiProblem(422, "The request has invalid fields.", kind="invalid-fields",
                         errors=[FieldError(field=where, message="Text cannot hold NUL (\\u0000).",
                                            code="string_nul")])


def _nul_at(body: object) -> str | None:
    """Where the body's first string (or key) holding a NUL character is: PostgreSQL stores
    none, so it is refused here for every operation. Walked without recursion: JSON may nest
    as deep as the parser allows."""
    pending: list[tuple[str, object]] = [("body", body)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return where
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return where
                pending.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            pending += [(f"{where}.{index}", item) for index, item in enumerate(value)]
    return None


@api.after_request
def _no_cookie(response: Response) -> Response:
    """The API sets no cookie, its docs page included: what a request put in the session
    (the layout's CSRF token, a session ended meanwhile) is not saved."""
    session.modified = False
    return response


@api.errorhandler(ApiProblem)
def _problem(error: ApiProblem):
    return from_exception(error)


def actor() -> User:
    """The user the request's token belongs to."""
    return g._login_user
