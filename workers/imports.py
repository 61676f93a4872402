"""Import tasks: the dry run of a large file and the import itself, each by job id.

Idempotent (a second delivery finds the job claimed or finished), so `acks_late`: a worker that
dies mid-import leaves the message to be delivered again, and the dead run, which never
committed, is started over once its progress is stale.
"""

from __future__ import annotations

from crm.db import get_session
from crm.imports import services
from workers.celery_app import celery


@celery.task(name="workers.imports.check_import", acks_late=True)
def check_import(job_id: int) -> None:
    services.process(get_session(), job_id, dry_run=True)


@celery.task(name="workers.imports.run_import", acks_late=True)
def run_import(job_id: int) -> None:
    services.process(get_session(), job_id, dry_run=False)
