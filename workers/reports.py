"""The weekly report task: on Monday from 07:00 (beat), last week's report to each subscriber
(crm/reports/sending.py: why each goes out once however often this runs)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from crm.core.clock import utcnow
from crm.db import get_session
from crm.reports import sending
from workers.celery_app import celery


@celery.task(name="workers.reports.send_weekly_reports")
def send_weekly_reports(at: str | None = None) -> None:
    """`at`: an ISO 8601 moment with its offset to run as if it were then (a catch-up by hand,
    a test); beat sends none and the clock decides."""
    now = datetime.fromisoformat(at) if at else utcnow()
    if now.tzinfo is None:
        raise ValueError("`at` needs a UTC offset")
    sending.send_weekly_reports(get_session(), current_app.config["SETTINGS"], now)
