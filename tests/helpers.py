"""Helpers the tests share: posting forms, reading pages and rows back, a real Celery worker."""

from __future__ import annotations

import html
import os
import subprocess
import sys

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlmodel import Session

from crm.config import PROJECT_ROOT
from crm.core.audit import AuditEvent
from crm.startups.models import Task
from tests.conftest import csrf_token, fresh


def post(client: FlaskClient, url: str, data: dict | None = None, token_from: str = "/tasks/"):
    """Post the form with the client's CSRF token, read from the page `token_from`."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


def post_keeping_flashes(client: FlaskClient, url: str, data: dict | None = None,
                         token_from: str = "/tasks/"):
    """Post with the client's CSRF token, read once (reading it renders a page, which would
    show and so use up the flashed messages of earlier posts)."""
    if not hasattr(client, "csrf_token_read_once"):
        client.csrf_token_read_once = csrf_token(client, token_from)
    return client.post(url, data={**(data or {}), "csrf_token": client.csrf_token_read_once})


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def reloaded(db: Session, model, ident):
    """The row as the requests committed it (not the copy this session still holds)."""
    return fresh(db).get(model, ident, populate_existing=True)


def stored(db: Session, task: Task) -> Task:
    """The task as the database has it now (the test's session may still hold an older copy)."""
    fresh(db).expire_all()
    return db.get(Task, task.id)


def count(db: Session, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def audit_events(db: Session, action: str, startup_id: int | None = None) -> list[AuditEvent]:
    """The audit events of this action, oldest first (only those on the startup, if given)."""
    query = select(AuditEvent).where(AuditEvent.action == action)
    if startup_id is not None:
        query = query.where(AuditEvent.object_type == "startup",
                            AuditEvent.object_id == startup_id)
    return list(fresh(db).scalars(query.order_by(AuditEvent.id)))


def start_worker(settings) -> subprocess.Popen:
    """A real Celery worker process on the test's database, broker, queue, upload folder, SMTP
    server (none if blank) and outbox timings."""
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": settings.database_url,
        "CELERY_BROKER_URL": settings.celery_broker_url,
        "BROKER_FOLDER": str(settings.broker_folder),
        "CELERY_QUEUE": settings.celery_queue,
        "UPLOAD_FOLDER": str(settings.upload_folder),
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "SMTP_URL": settings.smtp_url or "",
        "OUTBOX_MAX_ATTEMPTS": str(settings.outbox_max_attempts),
        "OUTBOX_RETRY_BASE_SECONDS": str(settings.outbox_retry_base_seconds),
        "OUTBOX_CLAIM_SECONDS": str(settings.outbox_claim_seconds),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "workers.celery_app", "worker",
         "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
