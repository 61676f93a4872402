"""Celery tasks sent only once the transaction that asked for them has committed."""

# A task sent before the commit could run before its job row is visible (or for a job the request
# then rolled back); a task that is never sent (the broker was down) leaves its job queued, which
# the job's page offers to send again.

from __future__ import annotations

import logging

from celery import Celery
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

log = logging.getLogger(__name__)
_PENDING = "after_commit.tasks"  # key in Session.info: (task name, args) to send


def send_task(db: OrmSession, task_name: str, *args) -> None:
    """Send the task when (and only if) the session's transaction commits."""
    db.info.setdefault(_PENDING, []).append((task_name, args))


def producer() -> Celery:
    """A Celery app of the web process for sending tasks (configured like the workers')."""
    extensions = current_app.extensions
    if "after_commit.celery" not in extensions:
        from workers.celery_app import make_celery  # workers builds on crm, so only when sending

        extensions["after_commit.celery"] = make_celery(current_app.config["SETTINGS"])
    return extensions["after_commit.celery"]


@event.listens_for(OrmSession, "after_commit")
def _send_pending(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending or not has_app_context():
        return
    for task_name, args in pending:
        try:
            producer().send_task(task_name, args=list(args))
        except Exception:  # the broker is down: the job stays queued, to be sent again
            log.exception("could not send %s for %s to the broker", task_name, args)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_unsent(session: OrmSession, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed without commit: nothing to send
        session.info.pop(_PENDING, None)
