"""A real Celery worker process consumes our tasks from the broker and writes to the database."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlmodel import Session

from crm.core.health import WORKER_HEARTBEAT
from crm.core.heartbeat import ServiceHeartbeat
from tests.helpers import start_worker
from workers.celery_app import make_celery
from workers.schedule import BEAT_SCHEDULE


def _wait_for_heartbeat(app, seconds: float = 45) -> ServiceHeartbeat | None:
    engine = app.extensions["db_engine"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(engine) as session:
            heartbeat = session.get(ServiceHeartbeat, WORKER_HEARTBEAT)
            if heartbeat is not None:
                return heartbeat
        time.sleep(0.2)
    return None


def _run_heartbeat_through_worker(app, settings):
    producer = make_celery(settings)
    worker = start_worker(settings)
    try:
        producer.send_task("workers.health.heartbeat")
        heartbeat = _wait_for_heartbeat(app)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert heartbeat is not None, f"the worker did not run the task; its log:\n{output}"
    assert "workers.health.heartbeat" in output
    return heartbeat


@pytest.mark.redis
def test_worker_runs_task_from_redis(app, settings, redis_url):
    settings = settings.model_copy(update={"celery_broker_url": redis_url,
                                           "celery_queue": f"test-{uuid.uuid4().hex}"})
    heartbeat = _run_heartbeat_through_worker(app, settings)
    assert heartbeat.last_seen_at.tzinfo is not None


def test_worker_runs_task_from_filesystem_broker(app, settings):
    """The embedded default of `make run`: Celery's filesystem transport."""
    assert settings.uses_filesystem_broker
    _run_heartbeat_through_worker(app, settings)


def test_every_scheduled_task_exists(settings):
    celery = make_celery(settings)
    celery.loader.import_default_modules()
    for name, entry in BEAT_SCHEDULE.items():
        assert entry["task"] in celery.tasks, f"beat entry {name!r} names an unknown task"
