"""The health task: proves a worker consumes from the broker and reaches the database."""

from __future__ import annotations

from crm.core.health import WORKER_HEARTBEAT
from crm.core.heartbeat import beat
from crm.db import get_session
from workers.celery_app import celery


@celery.task(name="workers.health.heartbeat")
def heartbeat() -> None:
    beat(get_session(), WORKER_HEARTBEAT)
