"""The API's role matrix: every operation × every role's token × own or another's record.

Like tests/test_route_matrix.py for the pages, the table must list every /api/v1 endpoint, so
no operation ships without a decision about who may use it; the same world of records is used.
A write carries a body the operation accepts, so the answer tells whether the caller got past
the role and ownership checks (a conflict or a refused value is "in"), not only the scope.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import url_for

from crm.core.enums import Role
from crm.intake.submission import CONSENT_VERSION
from tests.api import issue_token
from tests.test_route_matrix import (
    DENIED,
    EDITOR_OF_RECORD,
    EDITORS,
    IN,
    LOGIN,
    MISSING,
    PUBLIC,
    SMALL_PDF,
    STAFF,
    Access,
    World,
    build_world,
)

ROLES = (Role.VIEWER, Role.BD_MANAGER, Role.MANAGER, Role.ADMIN)
CLIENT_USER = {Role.VIEWER: "viewer", Role.BD_MANAGER: "bd", Role.MANAGER: "manager",
               Role.ADMIN: "admin"}
#: A token's answer: the API never sends to a login page.
BY_TOKEN = {"anonymous": LOGIN}


@pytest.fixture
def world(app, make_user) -> World:
    return build_world(app, make_user)


def _no_args(world: World, whose: str) -> dict:
    return {}


def _record(name: str, argument: str) -> Callable[[World, str], dict]:
    return lambda world, whose: {argument: world.of(whose)[name]}


def _no_body(world: World, whose: str) -> Any:
    return None


@dataclass(frozen=True)
class Operation:
    access: Access
    args_of: Callable[[World, str], dict] = _no_args
    body_of: Callable[[World, str], Any] = _no_body


#: endpoint -> who may call it (with a token of their own), its URL arguments and a body.
OPERATIONS: dict[str, Operation] = {
    "api.openapi_json": Operation(PUBLIC),
    "api.docs": Operation(PUBLIC),
    "api.list_startups_api": Operation(STAFF),
    "api.show_startup": Operation(STAFF, _record("startup", "startup_id")),
    "api.create_startup": Operation(
        EDITORS, body_of=lambda world, whose: {"name": f"Matrix {whose}", "country": "DE",
                                               "allow_duplicates": True}),
    "api.change_startup": Operation(
        EDITOR_OF_RECORD, _record("startup", "startup_id"),
        lambda world, whose: {"city": "Düsseldorf", "version": 1}),
    "api.list_enrollments": Operation(STAFF),
    "api.show_enrollment": Operation(STAFF, _record("enrollment", "enrollment_id")),
    # The world's startups are enrolled already: 409 for those who may, 403 for the others.
    "api.create_enrollment": Operation(
        EDITOR_OF_RECORD, body_of=lambda world, whose: {
            "startup_id": world.of(whose)["startup"], "programme": world.programme_key}),
    "api.move_enrollment": Operation(EDITOR_OF_RECORD, _record("enrollment", "enrollment_id"),
                                     lambda world, whose: {"to_stage": "intake"}),
    # A whole application to the world's programme (its form asks the built-in questions).
    "api.submit_intake": Operation(EDITORS, body_of=lambda world, whose: {
        "programme": world.programme_key, "email": f"{whose}@apply.example",
        "company": {"name": f"Matrix {whose}", "country": "DE", "description": "Robots."},
        "people": [{"name": "Asha Rao", "email": f"{whose}@apply.example"}],
        "plans": {"timeline": "later"},
        "pitch_deck": {"filename": "deck.pdf",
                       "content_base64": base64.b64encode(SMALL_PDF).decode()},
        "consent": True, "consent_text_version": CONSENT_VERSION}),
    "api.list_contacts": Operation(STAFF, _record("startup", "startup_id")),
    "api.create_contact": Operation(EDITOR_OF_RECORD, _record("startup", "startup_id"),
                                    lambda world, whose: {"name": f"Matrix {whose}"}),
    "api.show_contact": Operation(STAFF, _record("contact", "contact_id")),
    "api.change_contact": Operation(EDITOR_OF_RECORD, _record("contact", "contact_id"),
                                    lambda world, whose: {"role": "CEO", "version": 1}),
    # No If-Match: 428 for those who may remove it, 403 before that for the others.
    "api.delete_contact": Operation(EDITOR_OF_RECORD, _record("contact", "contact_id")),
    "api.list_programmes": Operation(STAFF),
    "api.show_programme": Operation(STAFF, lambda world, whose: {"key": world.programme_key}),
    "api.list_activities": Operation(STAFF, _record("startup", "startup_id")),
    "api.log_activity": Operation(EDITOR_OF_RECORD, _record("startup", "startup_id"),
                                  lambda world, whose: {"kind": "note", "subject": "Matrix"}),
    "api.list_tasks": Operation(STAFF),
    "api.show_task": Operation(STAFF, _record("task", "task_id")),
    "api.create_task": Operation(
        EDITOR_OF_RECORD, body_of=lambda world, whose: {"startup_id": world.of(whose)["startup"],
                                                        "title": "Matrix"}),
    "api.change_task": Operation(EDITOR_OF_RECORD, _record("task", "task_id"),
                                 lambda world, whose: {"done": True}),
}


def _answer(response) -> str:
    status = response.status_code
    if status == 401:
        return LOGIN
    if status == 403:
        return DENIED
    if status == 404:
        return MISSING
    if status >= 500 or status in (400, 405, 415):
        return f"unexpected {status}: {response.get_data(as_text=True)[:200]}"
    return IN


def test_every_api_endpoint_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("api.")}
    assert endpoints - set(OPERATIONS) == set(), "add these to OPERATIONS with who may call them"
    assert set(OPERATIONS) - endpoints == set(), "these endpoints no longer exist"


def _calls(app, world: World):
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint):
        if not rule.endpoint.startswith("api."):
            continue
        operation = OPERATIONS[rule.endpoint]
        method = next(iter(rule.methods - {"HEAD", "OPTIONS"}))
        for whose in ("own", "other"):
            with app.test_request_context():
                url = url_for(rule.endpoint, **operation.args_of(world, whose))
            yield operation, method, url, whose


def test_without_a_token_only_the_description_is_open(app, world):
    client = app.test_client()
    wrong = []
    for operation, method, url, whose in _calls(app, world):
        response = client.open(url, method=method, json=operation.body_of(world, whose))
        expected = IN if operation.access is PUBLIC else LOGIN
        if _answer(response) != expected:
            wrong.append(f"{method} {url}: {response.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_the_expected_answer_by_token(app, world, role):
    user = world.users[CLIENT_USER[role]]
    scopes = ("read",) if role == Role.VIEWER else ("read", "write")
    headers = {"Authorization": f"Bearer {issue_token(app, user, scopes)}"}
    client = app.test_client()
    wrong = []
    for operation, method, url, whose in _calls(app, world):
        response = client.open(url, method=method, headers=headers,
                               json=operation.body_of(world, whose))
        answer, expected = _answer(response), operation.access.expected(role, whose)
        if answer != expected:
            wrong.append(f"{method} {url} ({whose}): {answer}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_a_session_cookie_does_not_open_the_api(app, world):
    """Logged in on the pages, still no API without a token: the API cannot be driven by a
    cross-site request riding on the browser's cookie."""
    from tests.conftest import login

    client = app.test_client()
    assert login(client, world.users["manager"].email).status_code == 302
    assert client.get("/api/v1/startups").status_code == 401
