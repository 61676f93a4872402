"""GET /healthz: is the database reachable, is the broker reachable, when did a worker last beat
and the reminder sweep last finish, how long has the oldest due email waited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, current_app
from kombu import Connection
from sqlalchemy import text

from crm.core.clock import utcnow
from crm.core.heartbeat import last_seen
from crm.db import get_session
from crm.extensions import limiter
from crm.outbox.queries import outbox_summary

bp = Blueprint("health", __name__)
WORKER_HEARTBEAT = "celery.worker"
REMINDER_SWEEP_HEARTBEAT = "reminders.sweep"  # left by each sweep that finished


@dataclass(frozen=True)
class DatabaseStatus:
    reachable: bool
    worker_seen_at: datetime | None = None
    sweep_seen_at: datetime | None = None
    oldest_due_email_at: datetime | None = None


def database_status(now: datetime) -> DatabaseStatus:
    """Reachable and migrated, and what the background work left in it."""
    db = get_session()
    try:
        db.execute(text("SELECT 1"))
        return DatabaseStatus(True, last_seen(db, WORKER_HEARTBEAT),
                              last_seen(db, REMINDER_SWEEP_HEARTBEAT),
                              outbox_summary(db, now).oldest_due_at)
    except Exception:  # any failure means unusable; the reason goes to the log
        current_app.logger.warning("health: database unreachable", exc_info=True)
        return DatabaseStatus(False)


def _seconds_since(moment: datetime | None, now: datetime) -> int | None:
    return int((now - moment).total_seconds()) if moment else None


def broker_ok(broker_url: str, transport_options: dict) -> bool:
    try:
        with Connection(broker_url, transport_options=transport_options,
                        connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        current_app.logger.warning("health: broker unreachable", exc_info=True)
        return False
    return True


@bp.get("/healthz")
@limiter.exempt
def healthz():
    settings = current_app.config["SETTINGS"]
    now = utcnow()
    database = database_status(now)
    broker = broker_ok(settings.celery_broker_url, settings.broker_transport_options)
    healthy = database.reachable and broker
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": "ok" if database.reachable else "unreachable",
        "broker": "ok" if broker else "unreachable",
        "worker_last_seen_seconds_ago": _seconds_since(database.worker_seen_at, now),
        "reminder_sweep_last_seen_seconds_ago": _seconds_since(database.sweep_seen_at, now),
        # How long the longest-waiting due email has waited: the delivery is stuck if it grows.
        "outbox_oldest_pending_seconds": _seconds_since(database.oldest_due_email_at, now),
    }
    return body, 200 if healthy else 503
