"""GET /healthz tells whether the database and the broker answer, when a worker last beat and the
reminder sweep last finished, and how long the oldest due email has waited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm import create_app
from crm.core.clock import utcnow
from crm.core.enums import OutboxStatus
from crm.core.health import REMINDER_SWEEP_HEARTBEAT, WORKER_HEARTBEAT
from crm.core.heartbeat import beat
from crm.outbox.models import OutboxMessage


def test_healthy_on_embedded_defaults(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok",
                             "worker_last_seen_seconds_ago": None,
                             "reminder_sweep_last_seen_seconds_ago": None,
                             "outbox_oldest_pending_seconds": None}


def test_reports_last_worker_heartbeat(client, db):
    beat(db, WORKER_HEARTBEAT).last_seen_at = utcnow() - timedelta(seconds=90)
    db.commit()
    assert 89 <= client.get("/healthz").json["worker_last_seen_seconds_ago"] <= 95


def test_reports_last_reminder_sweep(client, db):
    beat(db, REMINDER_SWEEP_HEARTBEAT).last_seen_at = utcnow() - timedelta(seconds=300)
    db.commit()
    body = client.get("/healthz").json
    assert 299 <= body["reminder_sweep_last_seen_seconds_ago"] <= 305
    assert body["worker_last_seen_seconds_ago"] is None


def test_reports_how_long_the_oldest_due_email_has_waited(client, db):
    now = utcnow()
    for key, status, due in [("waiting", OutboxStatus.PENDING, now - timedelta(seconds=40)),
                             ("retrying", OutboxStatus.FAILED, now - timedelta(seconds=70)),
                             ("later", OutboxStatus.FAILED, now + timedelta(hours=1)),
                             ("sending", OutboxStatus.SENDING, now - timedelta(hours=1)),
                             ("given up", OutboxStatus.DEAD, now - timedelta(days=1))]:
        db.add(OutboxMessage(dedupe_key=key, to_address="a@robotics.example", subject="Hi",
                             body_text="Hi", status=status, next_attempt_at=due))
    db.commit()
    assert 70 <= client.get("/healthz").json["outbox_oldest_pending_seconds"] <= 75


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
