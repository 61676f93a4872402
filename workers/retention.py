"""Retention tasks: one run of a named retention job (crm/gdpr/retention.py) per call."""

from __future__ import annotations

from crm.db import get_session
from crm.gdpr import retention
from workers.celery_app import celery


@celery.task(name="workers.retention.run_retention_job")
def run_retention_job(job: str) -> None:
    retention.run(get_session(), job)
