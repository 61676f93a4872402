"""The app as the benchmark runs it in-process, and clients logged in through the login form.

In-process the app runs with development settings: production's safety check refuses SQLite
and the filesystem broker, and `ENV` changes nothing else on a request's path (only Flask's
TESTING flag, which stays off here). Rate limits are raised so that the many logins and intake
submissions of one run are measured rather than refused; Celery tasks an import asks for go to
a filesystem broker in the run's own folder, where no worker takes them (the bench runs the
worker's part itself).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from crm import create_app
from crm.config import Settings

UNLIMITED = "100000 per minute"
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def bench_settings(database_url: str, work_dir: Path) -> Settings:
    return Settings(
        env="development",
        database_url=database_url,
        broker_folder=work_dir / "broker",
        upload_folder=work_dir / "uploads",
        secret_key=secrets.token_urlsafe(48),
        base_url="http://127.0.0.1:5000",
        ratelimit_storage_url="memory://",
        login_rate_limit=UNLIMITED,
        intake_rate_limit=UNLIMITED,
        # Each page is requested again and again: measure building it, not the page cache
        # (bench/load.py measures the list's throughput with and without it).
        page_cache_seconds=0,
    )


def bench_app(database_url: str, work_dir: Path) -> Flask:
    return create_app(bench_settings(database_url, work_dir))


class PageError(RuntimeError):
    """A page the benchmark asked for did not answer as expected."""


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the client's session, read from a form on the page at `path`."""
    response = client.get(path)
    match = CSRF_INPUT.search(response.get_data(as_text=True))
    if response.status_code != 200 or match is None:
        raise PageError(f"GET {path}: {response.status_code}, no CSRF token")
    return match.group(1)


def logged_in(app: Flask, email: str, password: str) -> FlaskClient:
    """A test client with a session of this user, logged in the way a person does."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": csrf_token(client, "/login")})
    if response.status_code != 302:
        raise PageError(f"login as {email}: {response.status_code} (wrong BENCH password?)")
    return client
