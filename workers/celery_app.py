"""The Celery app; each task runs inside a Flask app context with one commit boundary."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from crm.config import Settings, load_settings_or_exit
from workers.schedule import BEAT_SCHEDULE

_flask_app: Flask | None = None


def flask_app() -> Flask:
    """The Flask app of this worker process, created on first use (never at import)."""
    global _flask_app
    if _flask_app is None:
        from crm import create_app

        _flask_app = create_app()
    return _flask_app


class FlaskTask(Task):
    """Runs the task in an app context and commits once at the end (rolls back on error)."""

    def __call__(self, *args, **kwargs):
        from crm.db import unit_of_work

        with flask_app().app_context(), unit_of_work():
            return self.run(*args, **kwargs)


def celery_config(settings: Settings) -> dict:
    if settings.uses_filesystem_broker:
        for folder in ("queue", "processed", "control"):
            (settings.broker_folder / folder).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": settings.celery_broker_url,
        "broker_transport_options": settings.broker_transport_options,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": settings.celery_queue,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": settings.timezone,
        "enable_utc": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "beat_schedule": BEAT_SCHEDULE,
        "beat_schedule_filename": str(settings.broker_folder.parent / "celerybeat-schedule"),
    }


def make_celery(settings: Settings) -> Celery:
    app = Celery("landing_desk", task_cls=FlaskTask,
                 include=["workers.health", "workers.exports", "workers.imports",
                          "workers.outbox", "workers.reminders", "workers.reports",
                          "workers.retention", "workers.webhooks"])
    app.config_from_object(celery_config(settings))
    return app


celery = make_celery(load_settings_or_exit())
