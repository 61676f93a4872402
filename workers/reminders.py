"""The reminder sweep task (beat runs it every 5 minutes; see crm/reminders/sending.py for why
overlapping runs never send a reminder twice)."""

from __future__ import annotations

from flask import current_app

from crm.core.clock import utcnow
from crm.db import get_session
from crm.reminders.sweep import sweep
from workers.celery_app import celery


@celery.task(name="workers.reminders.sweep_reminders")
def sweep_reminders() -> str:
    return str(sweep(get_session(), current_app.config["SETTINGS"], utcnow()))
