"""GET /healthz tells whether the database and the broker answer, and when a worker last beat."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm import create_app
from crm.core.clock import utcnow
from crm.core.health import WORKER_HEARTBEAT
from crm.core.heartbeat import beat


def test_healthy_on_embedded_defaults(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok",
                             "worker_last_seen_seconds_ago": None}


def test_reports_last_worker_heartbeat(client, db):
    beat(db, WORKER_HEARTBEAT).last_seen_at = utcnow() - timedelta(seconds=90)
    db.commit()
    assert 89 <= client.get("/healthz").json["worker_last_seen_seconds_ago"] <= 95


@pytest.mark.redis
def test_healthy_with_redis_broker(settings, redis_url):
    app = create_app(settings.model_copy(update={"celery_broker_url": redis_url}))
    assert app.test_client().get("/healthz").json["broker"] == "ok"


def test_unreachable_broker_gives_503(settings):
    app = create_app(settings.model_copy(update={"celery_broker_url": "redis://127.0.0.1:1/0"}))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["broker"] == "unreachable"
    assert response.json["database"] == "ok"


def test_unreachable_database_gives_503(settings, tmp_path):
    missing = tmp_path / "no-such-dir" / "sub" / "db.sqlite"
    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{missing}"}))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
