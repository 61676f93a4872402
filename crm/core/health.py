"""GET /healthz: is the database reachable, is the broker reachable, when did a worker last beat."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app
from kombu import Connection
from sqlalchemy import text

from crm.core.clock import utcnow
from crm.core.heartbeat import last_seen
from crm.db import get_session
from crm.extensions import limiter

bp = Blueprint("health", __name__)
WORKER_HEARTBEAT = "celery.worker"
REMINDER_SWEEP_HEARTBEAT = "reminders.sweep"  # left by each sweep that finished


def database_status() -> tuple[bool, datetime | None]:
    """(reachable and migrated, when a worker last beat)."""
    try:
        get_session().execute(text("SELECT 1"))
        return True, last_seen(get_session(), WORKER_HEARTBEAT)
    except Exception:  # any failure means unusable; the reason goes to the log
        current_app.logger.warning("health: database unreachable", exc_info=True)
        return False, None


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
    database, seen = database_status()
    broker = broker_ok(settings.celery_broker_url, settings.broker_transport_options)
    body = {
        "status": "ok" if database and broker else "unavailable",
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
        "worker_last_seen_seconds_ago": (
            int((utcnow() - seen).total_seconds()) if seen else None
        ),
    }
    return body, 200 if database and broker else 503
