"""Login attempts are rate-limited, with the counters in Redis when Redis is configured."""

from __future__ import annotations

import uuid

import pytest
import redis

from crm import create_app
from crm.db import get_session
from crm.extensions import limiter
from tests.conftest import csrf_token, empty_tables
from tests.factories import definition, make_programme


@pytest.mark.redis
def test_login_limit_counts_in_redis(settings, redis_url):
    app = create_app(settings.model_copy(update={
        "celery_broker_url": redis_url,
        "ratelimit_storage_url": None,
        "login_rate_limit": "2 per minute",
    }))
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    # Each run of this test counts under its own (made-up) client address.
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"  # TEST-NET-1: only a WSGI value
    client = app.test_client()
    token = csrf_token(client)
    statuses = [
        client.post("/login", data={"email": "nobody@desk.example", "password": "wrong",
                                    "csrf_token": token},
                    environ_overrides={"REMOTE_ADDR": address}).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    keys = redis.Redis.from_url(redis_url).keys(f"*{address}*")
    assert keys, "the limiter's counter is not in Redis"


@pytest.mark.redis
def test_starting_an_application_counts_in_redis(settings, redis_url):
    app = create_app(settings.model_copy(update={
        "celery_broker_url": redis_url, "ratelimit_storage_url": None,
        "intake_rate_limit": "2 per minute",
    }))
    try:
        with app.app_context():
            programme = make_programme(get_session(), definition(intake={}))
        address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"  # TEST-NET-2: only a WSGI value
        client = app.test_client()
        token = csrf_token(client, f"/apply/{programme.key}")
        statuses = [
            client.post(f"/apply/{programme.key}/start",
                        data={"email": f"founder{n}@example.in", "csrf_token": token},
                        environ_overrides={"REMOTE_ADDR": address}).status_code
            for n in range(3)
        ]
        assert statuses == [302, 302, 429]
        assert redis.Redis.from_url(redis_url).keys(f"*{address}*")
    finally:
        empty_tables(app)


def test_an_app_made_without_limits_leaves_the_next_app_limited(settings):
    """The Limiter is one object shared by every app of the process: turning it off for one
    (the fuzz suite does) must not leave it off for the apps made after."""
    unlimited = create_app(settings, RATELIMIT_ENABLED=False)
    assert not limiter.enabled
    limited = create_app(settings)
    assert limiter.enabled
    for made in (unlimited, limited):
        made.extensions["db_engine"].dispose()
