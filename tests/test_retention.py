"""Retention jobs: stale drafts, documents of closed applications and enrollments, old audit
events; deleted in committed batches, each run logged, run again safely."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from crm.core.audit import AuditEvent
from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, Role
from crm.db import get_session
from crm.documents.models import Document
from crm.documents.services import path_of, store_document
from crm.exports import services as export_services
from crm.exports.models import ExportJob
from crm.gdpr import retention
from crm.gdpr.models import RetentionRun
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.conftest import fresh
from tests.factories import make_programme, make_startup
from tests.gdpr_helpers import intake_programme, manager_client
from tests.helpers import count, reloaded, start_worker, text_of
from tests.test_gdpr_restriction import WELCOMING
from tests.test_intake import PDF, start
from workers.celery_app import make_celery


def _run(app, job: str, **kwargs) -> RetentionRun:
    with app.app_context():
        return retention.run(get_session(), job, **kwargs)


def _start_draft(app, db, programme, email: str):
    """A draft started through the form (its resume link emailed), with a pitch deck."""
    assert start(app.test_client(), programme, email=email).status_code == 302
    draft = fresh(db).scalars(select(Application).where(Application.email == email)).one()
    with app.app_context():
        session = get_session()
        store_document(session, None, FileStorage(io.BytesIO(PDF), filename="deck.pdf"), None,
                       application_id=draft.id, kind="pitch_deck", pdf_only=True)
        session.commit()
    return draft


def test_drafts_untouched_for_90_days_go_with_their_documents_and_links(app, db, make_user,
                                                                        clock):
    programme = intake_programme(db, make_user)
    clock(utcnow() - timedelta(days=91))
    stale = _start_draft(app, db, programme, "old@draft.example").id
    clock(utcnow() + timedelta(days=90))  # 1 day ago
    recent = _start_draft(app, db, programme, "new@draft.example").id
    clock(utcnow() + timedelta(days=1))
    with app.app_context():
        stale_file = path_of(fresh(db).scalars(select(Document).where(
            Document.application_id == stale)).one())
    assert stale_file.is_file()

    run = _run(app, retention.STALE_DRAFTS)

    assert run.deleted == {"drafts": 1, "documents": 1, "messages": 1} and run.error is None
    assert run.finished_at is not None
    assert count(db, Application, Application.id == stale) == 0
    assert reloaded(db, Application, recent).status == ApplicationStatus.DRAFT
    assert not stale_file.exists()
    assert count(db, Document) == 1
    bodies = db.scalars(select(OutboxMessage.body_text)).all()
    assert sum("/apply/resume/" in body for body in bodies) == 1  # the recent draft's
    assert count(db, OutboxMessage, OutboxMessage.to_address == "old@draft.example") == 0
    # Run again: nothing is due any more, and the run says so.
    assert _run(app, retention.STALE_DRAFTS).deleted == {}
    assert count(db, RetentionRun) == 2


def _closed_startup(app, db, programme, name: str, closed_days_ago: int, *,
                    restricted: bool = False) -> int:
    startup = make_startup(db, name, contact_email=None)
    closed_at = utcnow() - timedelta(days=closed_days_ago)
    with app.app_context():
        session = get_session()
        enrollment = engine.enroll(session, startup=session.get(type(startup), startup.id),
                                   programme=programme, actor=Actor.system(),
                                   now=closed_at - timedelta(days=5))
        engine.move(session, enrollment, "rejected", Actor.system(), note="Not a fit",
                    now=closed_at)
        document = store_document(session, startup.id, FileStorage(
            io.BytesIO(PDF), filename="deck.pdf", content_type="application/pdf"), None)
        if restricted:
            session.get(type(startup), startup.id).restricted_at = utcnow()
        session.commit()
        return document.id


def test_documents_of_long_rejected_startups_go_unless_restricted_or_recent(app, db):
    programme = make_programme(db, WELCOMING)
    old = _closed_startup(app, db, programme, "Seoul Sensors", 181)
    kept_restricted = _closed_startup(app, db, programme, "Lagos Logistics", 181,
                                      restricted=True)
    recent = _closed_startup(app, db, programme, "Porto Pumps", 179)

    run = _run(app, retention.CLOSED_DOCUMENTS)

    assert run.deleted == {"documents": 1}
    remaining = set(fresh(db).scalars(select(Document.id)))
    assert remaining == {kept_restricted, recent} and old not in remaining


def _audit_at(db, days_ago: int, action: str) -> None:
    db.add(AuditEvent(action=action, ip_address="203.0.113.9",
                      occurred_at=utcnow() - timedelta(days=days_ago)))
    db.commit()


def test_audit_events_older_than_two_years_are_deleted_in_batches(app, db):
    for _ in range(3):
        _audit_at(db, 731, "auth.login_failed")
    _audit_at(db, 729, "auth.login")

    run = _run(app, retention.OLD_AUDIT_EVENTS, batch=2)

    assert run.deleted == {"audit_events": 3}
    assert fresh(db).scalars(select(AuditEvent.action)).all() == ["auth.login"]


def test_a_run_that_fails_keeps_its_finished_batches_and_the_next_run_goes_on(
        app, db, make_user, clock, monkeypatch):
    programme = intake_programme(db, make_user)
    clock(utcnow() - timedelta(days=100))
    for number in range(3):
        _start_draft(app, db, programme, f"draft{number}@draft.example")
    clock(utcnow() + timedelta(days=100))
    calls = []
    scrub = retention.scrub_messages

    def failing_on_the_second_batch(session, condition):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost its database")
        return scrub(session, condition)

    monkeypatch.setattr(retention, "scrub_messages", failing_on_the_second_batch)
    with pytest.raises(RuntimeError):
        _run(app, retention.STALE_DRAFTS, batch=1)

    failed = fresh(db).scalars(select(RetentionRun)).one()
    assert failed.error == "RuntimeError: worker lost its database"
    assert failed.deleted["drafts"] == 1 and failed.finished_at is not None
    assert count(db, Application) == 2  # the first batch was committed; the second not
    monkeypatch.setattr(retention, "scrub_messages", scrub)
    assert _run(app, retention.STALE_DRAFTS, batch=1).deleted["drafts"] == 2
    assert count(db, Application) == 0


def test_admins_see_the_runs(app, db, make_user):
    _run(app, retention.OLD_AUDIT_EVENTS)
    admin = manager_client(app, make_user, Role.ADMIN)

    page = text_of(admin.get("/admin/retention"))

    assert "old_audit_events" in page and "730 days" in page
    assert manager_client(app, make_user).get("/admin/retention").status_code == 403


def _finished_run(app, seconds: float = 45) -> RetentionRun | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(app.extensions["db_engine"]) as session:
            run = session.scalars(select(RetentionRun)
                                  .where(RetentionRun.finished_at.is_not(None))).first()
            if run is not None:
                return run
        time.sleep(0.2)
    return None


def test_a_worker_runs_the_scheduled_retention_job(app, db, settings):
    """Through the broker of the one-command run (the filesystem), as beat would send it."""
    _audit_at(db, 800, "auth.login_failed")
    producer = make_celery(settings)
    worker = start_worker(settings)
    try:
        producer.send_task("workers.retention.run_retention_job", args=["old_audit_events"])
        run = _finished_run(app)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert run is not None, f"the worker did not run the job; its log:\n{output}"
    assert run.deleted == {"audit_events": 1} and run.error is None
    with Session(app.extensions["db_engine"]) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_list_exports_go_with_their_files_two_weeks_after_they_were_asked_for(
        app, db, make_user):
    user = make_user(Role.MANAGER)
    make_startup(db, "Chennai Agritech", country="IN", contact_email=None)
    asked = utcnow()
    with app.app_context():
        session = get_session()
        old = ExportJob(user_id=user.id, query="q=Chennai", file_format="csv",
                        created_at=asked - timedelta(days=14, minutes=1))
        recent = ExportJob(user_id=user.id, query="", file_format="csv",
                           created_at=asked - timedelta(days=13))
        session.add_all([old, recent])
        session.commit()
        old_file = export_services.path_of(export_services.run_export_job(session, old.id))
        recent_file = export_services.path_of(export_services.run_export_job(session, recent.id))
        session.commit()
        old_id, recent_id = old.id, recent.id
    assert old_file.is_file() and recent_file.is_file()

    run = _run(app, retention.OLD_EXPORTS, now=asked)

    assert run.deleted == {"exports": 1, "files": 1} and run.error is None
    assert not old_file.exists() and recent_file.is_file()
    assert fresh(db).get(ExportJob, old_id) is None and db.get(ExportJob, recent_id)
    assert _run(app, retention.OLD_EXPORTS, now=asked).deleted == {}  # nothing twice
