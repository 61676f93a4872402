"""The outbox task: sends the emails that are due (beat runs it every minute; see
crm/outbox/delivery.py for why overlapping runs never send a message twice)."""

from __future__ import annotations

from flask import current_app

from crm.db import get_session
from crm.outbox.delivery import deliver_due
from workers.celery_app import celery


@celery.task(name="workers.outbox.deliver_outbox")
def deliver_outbox() -> None:
    deliver_due(get_session(), current_app.config["SETTINGS"])
