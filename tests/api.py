"""Helpers for API tests: tokens made through the real service, a client that sends them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm.api import tokens
from crm.core.enums import Role
from crm.db import get_session
from crm.users.models import User


@dataclass
class ApiCaller:
    """A user's token and a test client that sends it with every request."""

    client: FlaskClient
    user: User
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kwargs: Any):
        return self.client.get(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any):
        return self.client.post(path, json=json,
                                headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        return self.client.patch(path, json=json,
                                 headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.client.delete(path, headers=self.headers(kwargs.pop("headers", None)),
                                  **kwargs)


def issue_token(app: Flask, user: User, scopes: tuple[str, ...] = ("read", "write"),
                days: int = 30) -> str:
    with app.app_context():
        db = get_session()
        _, secret = tokens.create_token(db, db.get(User, user.id), name="test",
                                        scopes=list(scopes), days=days)
        db.commit()
    return secret


@pytest.fixture
def api_as(app, make_user) -> Callable[..., ApiCaller]:
    """`api_as(Role.MANAGER)`: a new user of that role with a token (read and write unless
    `scopes` says otherwise; a viewer's reads only)."""

    def factory(role: Role = Role.MANAGER, *, scopes: tuple[str, ...] | None = None,
                user: User | None = None) -> ApiCaller:
        user = user or make_user(role)
        if scopes is None:
            scopes = ("read",) if role == Role.VIEWER else ("read", "write")
        return ApiCaller(app.test_client(), user, issue_token(app, user, scopes))

    return factory
