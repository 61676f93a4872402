"""Fixtures: the app on SQLite and on PostgreSQL, a client that logs in, user factories."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from crm import create_app
from crm.config import Settings
from crm.core.clock import set_clock
from crm.core.enums import Role
from crm.db import get_session
from crm.migrate import upgrade
from crm.models import metadata
from crm.users.models import User
from crm.users.services import create_user

pytest_plugins = ["tests.smtp", "tests.api"]  # smtp_server: a real aiosmtpd server; api_as

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105
#: Argon2id at a low cost for the suite (the production cost, RFC 9106's, takes about 150 ms a
#: hash here, and every user, login and recovery code pays it); a test marked
#: `real_password_hashing` keeps the production hasher.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1)
FIVE_YEARS_IN_MINUTES = 5 * 366 * 24 * 60
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def require_env(name: str) -> str:
    """The variable's value; without it the test skips, or fails in CI."""
    value = os.environ.get(name)
    if not value:
        message = f"{name} is not set"
        if IN_CI:
            pytest.fail(f"{message}: CI must run this test", pytrace=False)
        pytest.skip(message)
    return value


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database on TEST_DATABASE_URL's server, dropped afterwards."""
    server_url = make_url(require_env("TEST_DATABASE_URL"))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session."""
    with scratch_postgres_database("landing_desk_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_env("TEST_REDIS_URL")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> str:
    """A migrated database of each kind; every test using the app runs on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade("head", url)
    return url


@pytest.fixture(autouse=True)
def cheap_password_hashing(request, monkeypatch) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr("crm.users.passwords._hasher", CHEAP_HASHER)


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        broker_folder=tmp_path / "broker",
        upload_folder=tmp_path / "uploads",
        secret_key="test-secret-key-" + "x" * 32,
        base_url="http://localhost",
        ratelimit_storage_url="memory://",
        page_cache_seconds=0,  # tests/test_page_cache.py turns it on
        # Sessions outlive the tests' jumps of the clock; test_account_security.py keeps
        # the real limits.
        session_idle_minutes=FIVE_YEARS_IN_MINUTES, session_max_hours=FIVE_YEARS_IN_MINUTES // 60,
    )


@pytest.fixture
def app(settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    empty_tables(app)


def empty_tables(app: Flask) -> None:
    """Delete every row the test wrote, and close the app's connections."""
    engine = app.extensions["db_engine"]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # audit events are append-only otherwise
            connection.execute(text("SET LOCAL crm.audit_maintenance = 'on'"))
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()


@pytest.fixture
def db(app) -> Iterator[Session]:
    """A session of the test's own, outside any app context.

    Flask reuses a pushed app context for the test client's requests, so a fixture that kept
    one open would share its `g` (where Flask-Login caches the user) and its database session
    with every request, and an ended session could look alive.
    """
    with Session(app.extensions["db_engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def clock() -> Iterator[Callable[[datetime], None]]:
    """`clock(moment)` stops the app's clock at that moment; the real clock comes back after the
    test."""

    def at(moment: datetime) -> None:
        set_clock(lambda: moment)

    yield at
    set_clock(None)


def fresh(db: Session) -> Session:
    """End the session's transaction, so it sees what the requests committed."""
    db.rollback()
    return db


@pytest.fixture
def make_user(app) -> Callable[..., User]:
    """Create a user through the real service (committed), password TEST_PASSWORD."""
    counter = iter(range(1, 10_000))

    def factory(role: Role = Role.BD_MANAGER, *, email: str | None = None,
                name: str | None = None, password: str = TEST_PASSWORD, **fields) -> User:
        number = next(counter)
        with app.app_context():
            session = get_session()
            user = create_user(session, email=email or f"{role.value}{number}@desk.example",
                               name=name or f"{role.value.title()} {number}", role=role,
                               password=password, **fields)
            session.commit()
            return user

    return factory


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = TEST_PASSWORD, **extra):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client), **extra})


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def client_as(app, make_user) -> Callable[[Role], tuple[FlaskClient, User]]:
    """A client logged in as a new user of the given role."""

    def factory(role: Role) -> tuple[FlaskClient, User]:
        user = make_user(role)
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client, user

    return factory


@pytest.fixture
def count_queries(app) -> Callable[[], Iterator[list[str]]]:
    """`with count_queries() as statements:` collects the SQL the app runs inside the block."""
    from contextlib import contextmanager

    from sqlalchemy import event

    engine = app.extensions["db_engine"]

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
