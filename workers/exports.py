"""The export task: writes a large startups-list export to a file (ids in, state re-read)."""

from __future__ import annotations

from crm.db import get_session
from crm.exports.services import run_export_job
from workers.celery_app import celery


@celery.task(name="workers.exports.run_export")
def run_export(job_id: int) -> None:
    run_export_job(get_session(), job_id)
