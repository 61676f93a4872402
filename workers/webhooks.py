"""The webhook task: POSTs the events that are due (beat runs it every minute, and each commit
that queued an event sends it; see crm/webhooks/delivery.py for why runs never double-send)."""

from __future__ import annotations

from flask import current_app

from crm.db import get_session
from crm.webhooks.delivery import deliver_due
from workers.celery_app import celery


@celery.task(name="workers.webhooks.deliver_webhooks")
def deliver_webhooks() -> None:
    deliver_due(get_session(), current_app.config["SETTINGS"])
