"""The beat schedule, as data: what runs periodically and how often."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {
        "task": "workers.health.heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "deliver-outbox": {
        "task": "workers.outbox.deliver_outbox",
        "schedule": 60.0,
        "options": {"expires": 55},  # a run the worker could not start in time is skipped
    },
    # Also sent after each commit that queued an event: this catches retries and lost sends.
    "deliver-webhooks": {
        "task": "workers.webhooks.deliver_webhooks",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "sweep-reminders": {
        "task": "workers.reminders.sweep_reminders",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Monday from 07:00 in the desk's time zone (Celery's `timezone`), every ten minutes until
    # each subscriber has this week's report: a beat that was down at 07:00 catches up.
    "send-weekly-reports": {
        "task": "workers.reports.send_weekly_reports",
        "schedule": crontab(minute="*/10", hour="7-23", day_of_week="mon"),
        "options": {"expires": 590},
    },
    # Retention (crm/gdpr/retention.py), nightly in the desk's time zone; a missed night is
    # caught up by the next, as each job deletes whatever is due by then.
    "retention-stale-drafts": {
        "task": "workers.retention.run_retention_job",
        "schedule": crontab(minute=10, hour=3),
        "args": ("stale_drafts",),
        "options": {"expires": 3600},
    },
    "retention-closed-documents": {
        "task": "workers.retention.run_retention_job",
        "schedule": crontab(minute=20, hour=3),
        "args": ("closed_documents",),
        "options": {"expires": 3600},
    },
    "retention-old-audit-events": {
        "task": "workers.retention.run_retention_job",
        "schedule": crontab(minute=30, hour=3),
        "args": ("old_audit_events",),
        "options": {"expires": 3600},
    },
    "retention-old-exports": {
        "task": "workers.retention.run_retention_job",
        "schedule": crontab(minute=40, hour=3),
        "args": ("old_exports",),
        "options": {"expires": 3600},
    },
}
