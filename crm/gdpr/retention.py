"""Retention jobs: what is deleted after how long, in committed batches, each run logged.

- stale_drafts: applications still in draft and untouched for RETENTION_DRAFT_DAYS (90) are
  deleted with their answers and documents; the resume links in emails sent to their address
  are scrubbed from those emails.
- closed_documents: documents of applications withdrawn, and of startups whose enrollments were
  all withdrawn or rejected, RETENTION_REJECTED_DOCUMENTS_DAYS (180) ago or longer. A startup
  with an open, landed or recently closed enrollment keeps its documents; so does a restricted
  one (GDPR Art. 18).
- old_audit_events: audit events older than AUDIT_RETENTION_DAYS (730); they hold IP addresses.
- old_exports: list exports written by a worker, RETENTION_EXPORT_DAYS (14) after they were
  asked for: the file (names, addresses of founders) and the job with its view's query
  string (which may hold a search term) go; who exported what stays in the audit trail.

Each job deletes in batches and commits each one: a worker killed mid-run loses at most the
batch in hand, and the next run picks up what is still due (the jobs are driven by what is in
the database, so running one twice deletes nothing twice). Each run is a `retention_runs` row,
its counts updated with every batch; one left without `finished_at` was interrupted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select, text
from sqlmodel import Session

from crm.config import Settings
from crm.core.audit import AuditEvent
from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, EnrollmentStatus
from crm.core.uploads import delete_when_committed
from crm.documents.models import Document
from crm.documents.services import delete_document
from crm.exports import services as export_services
from crm.exports.models import ExportJob
from crm.gdpr.erasure import scrub_messages
from crm.gdpr.models import RetentionRun
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.startups.models import Startup
from crm.workflow.models import Enrollment

log = logging.getLogger(__name__)

BATCH = 200
STALE_DRAFTS = "stale_drafts"
CLOSED_DOCUMENTS = "closed_documents"
OLD_AUDIT_EVENTS = "old_audit_events"
OLD_EXPORTS = "old_exports"
RESUME_PATH = "/apply/resume/"

Batches = Iterator[Counter[str]]


def run(db: Session, job: str, now: datetime | None = None, batch: int = BATCH) -> RetentionRun:
    """Run one job now, logged as a retention run; an error is logged on the run and raised."""
    now = now or utcnow()
    settings: Settings = current_app.config["SETTINGS"]
    steps = JOBS[job](db, now, settings, batch)  # KeyError for an unknown job: before logging
    record = RetentionRun(job=job, started_at=now)
    db.add(record)
    db.commit()
    counts: Counter[str] = Counter()
    try:
        for deleted in steps:
            counts.update(deleted)
            record.deleted = dict(counts)
            db.commit()
    except Exception as error:
        db.rollback()
        record.error = f"{type(error).__name__}: {error}"[:500]
        record.finished_at = utcnow()
        db.commit()
        log.exception("retention job %s failed after deleting %s", job, dict(counts))
        raise
    record.finished_at = utcnow()
    db.commit()
    log.info("retention job %s deleted %s", job, dict(counts))
    return record


def recent_runs(db: Session, limit: int = 50) -> list[RetentionRun]:
    return list(db.scalars(select(RetentionRun)
                           .order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
                           .limit(limit)))


# The jobs -------------------------------------------------------------------------------


def _stale_drafts(db: Session, now: datetime, settings: Settings, batch: int) -> Batches:
    cutoff = now - timedelta(days=settings.retention_draft_days)
    while True:
        drafts = list(db.scalars(select(Application).where(
            Application.status == ApplicationStatus.DRAFT, Application.last_activity_at < cutoff,
        ).order_by(Application.id).limit(batch)))
        if not drafts:
            return
        counts: Counter[str] = Counter(drafts=len(drafts))
        for draft in drafts:
            counts["documents"] += _delete_documents(db, [Document.application_id == draft.id])
            if draft.email:
                counts["messages"] += scrub_messages(db, (
                    func.lower(OutboxMessage.to_address) == draft.email.lower())
                    & OutboxMessage.body_text.contains(RESUME_PATH))
            db.delete(draft)
        db.flush()
        yield counts


def _closed_documents(db: Session, now: datetime, settings: Settings, batch: int) -> Batches:
    cutoff = now - timedelta(days=settings.retention_rejected_documents_days)
    closed = (EnrollmentStatus.WITHDRAWN, EnrollmentStatus.REJECTED)
    all_closed_long_ago = (
        exists().where(Enrollment.startup_id == Document.startup_id,
                       Enrollment.status.in_(closed), Enrollment.closed_at < cutoff)
        & ~exists().where(Enrollment.startup_id == Document.startup_id,
                          or_(Enrollment.status.not_in(closed), Enrollment.closed_at.is_(None),
                              Enrollment.closed_at >= cutoff)))
    withdrawn_long_ago = exists().where(Application.id == Document.application_id,
                                        Application.withdrawn_at < cutoff)
    restricted = exists().where(Startup.id == Document.startup_id,
                                Startup.restricted_at.is_not(None))
    conditions = [or_(all_closed_long_ago, withdrawn_long_ago), ~restricted]
    while deleted := _delete_documents(db, conditions, batch):
        yield Counter(documents=deleted)


def _old_audit_events(db: Session, now: datetime, settings: Settings, batch: int) -> Batches:
    cutoff = now - timedelta(days=settings.audit_retention_days)
    while True:
        if db.get_bind().dialect.name == "postgresql":
            # Audit events are append-only there (migration b9598d8f1e38) but for this
            # transaction-local setting, which ends with the batch's commit.
            db.execute(text("SET LOCAL crm.audit_maintenance = 'on'"))
        ids = list(db.scalars(select(AuditEvent.id).where(AuditEvent.occurred_at < cutoff)
                              .order_by(AuditEvent.id).limit(batch)))
        if not ids:
            return
        db.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        yield Counter(audit_events=len(ids))


def _old_exports(db: Session, now: datetime, settings: Settings, batch: int) -> Batches:
    cutoff = now - timedelta(days=settings.retention_export_days)
    while True:
        jobs = list(db.scalars(select(ExportJob).where(ExportJob.created_at < cutoff)
                               .order_by(ExportJob.id).limit(batch)))
        if not jobs:
            return
        files = 0
        for job in jobs:
            path = export_services.path_of(job)
            if path is not None:
                delete_when_committed(db, path)
                files += 1
            db.delete(job)
        db.flush()
        yield Counter(exports=len(jobs), files=files)


def _delete_documents(db: Session, conditions: list, limit: int | None = None) -> int:
    """Delete matching documents (rows now, files once the batch commits); how many."""
    query = select(Document).where(*conditions).order_by(Document.id)
    documents = list(db.scalars(query.limit(limit) if limit else query))
    for document in documents:
        delete_document(db, document)
    return len(documents)


JOBS: dict[str, Callable[[Session, datetime, Settings, int], Batches]] = {
    STALE_DRAFTS: _stale_drafts,
    CLOSED_DOCUMENTS: _closed_documents,
    OLD_AUDIT_EVENTS: _old_audit_events,
    OLD_EXPORTS: _old_exports,
}
