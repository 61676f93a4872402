"""A real Celery worker on Redis runs the reminder sweep sent twice: one email per reminder."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.core.health import REMINDER_SWEEP_HEARTBEAT
from crm.core.heartbeat import ServiceHeartbeat
from crm.outbox.models import OutboxMessage
from crm.reminders.models import Reminder
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.factories import definition, make_programme, make_startup
from tests.helpers import start_worker
from workers.celery_app import make_celery


def _swept_after(app, moment, seconds: float = 45):
    """When the worker's sweep left its heartbeat after `moment`, or None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(app.extensions["db_engine"]) as session:
            heartbeat = session.get(ServiceHeartbeat, REMINDER_SWEEP_HEARTBEAT)
            if heartbeat is not None and heartbeat.last_seen_at > moment:
                return heartbeat.last_seen_at
        time.sleep(0.1)
    return None


def _reminder_emails(app) -> list[str]:
    with Session(app.extensions["db_engine"]) as session:
        return list(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.startswith("reminder:"))))


@pytest.mark.redis
def test_a_worker_sweeping_twice_queues_one_email_per_reminder(app, db, settings, redis_url,
                                                               make_user):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("run in the production shape only (PostgreSQL and Redis): it is slow")
    owner, manager = make_user(Role.BD_MANAGER), make_user(Role.MANAGER)
    programme = make_programme(db, definition(intake={}))
    a_month_ago = utcnow() - timedelta(days=30)  # the worker runs on the real clock
    with app.app_context():
        for name in ("Bengaluru Robotics", "Seoul Sensors", "Lagos Logistics"):
            engine.enroll(db, startup=make_startup(db, name, owner_id=owner.id,
                                                   contact_email=None),
                          programme=programme, actor=Actor.system(), now=a_month_ago)
        db.commit()
    settings = settings.model_copy(update={"celery_broker_url": redis_url,
                                           "celery_queue": f"test-{uuid.uuid4().hex}"})
    producer = make_celery(settings)
    worker = start_worker(settings)
    try:
        producer.send_task("workers.reminders.sweep_reminders")
        first = _swept_after(app, a_month_ago)
        after_first = _reminder_emails(app)
        producer.send_task("workers.reminders.sweep_reminders")
        second = _swept_after(app, first) if first else None
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert first and second, f"the worker did not sweep twice; its log:\n{output}"
    # Overdue to the owner and escalated to the manager, for each of the three startups.
    assert len(after_first) == len(set(after_first)) == 6
    assert sorted(_reminder_emails(app)) == sorted(after_first)
    with Session(app.extensions["db_engine"]) as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 6
        recipients = session.scalars(select(OutboxMessage.to_address).where(
            OutboxMessage.dedupe_key.startswith("reminder:"))).all()
    assert sorted(recipients) == sorted([owner.email] * 3 + [manager.email] * 3)
