"""Celery tasks sent only once the transaction that asked for them has committed.

A task sent before the commit could run before its job row is visible (or for a job the
request then rolled back); a task that is never sent leaves its job queued, which the job's page
offers to send again.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

logger = logging.getLogger(__name__)
_PENDING = "imports.pending_tasks"  # key in Session.info: (task name, args) to send


def send_after_commit(db: OrmSession, task_name: str, *args) -> None:
    """Send the task when (and only if) the session's transaction commits."""
    db.info.setdefault(_PENDING, []).append((task_name, args))


def producer():
    """A Celery app for sending, configured from this Flask app's settings (once per app)."""
    extensions = current_app.extensions
    if "imports.celery" not in extensions:
        from workers.celery_app import make_celery

        extensions["imports.celery"] = make_celery(current_app.config["SETTINGS"])
    return extensions["imports.celery"]


@event.listens_for(OrmSession, "after_commit")
def _send_pending(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending or not has_app_context():
        return
    for task_name, args in pending:
        try:
            producer().send_task(task_name, args=list(args))
        except Exception as error:  # the broker is down: the job stays queued, to be resent
            logger.error("could not send %s for %s: %s", task_name, args,
                         type(error).__name__)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_unsent(session: OrmSession, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed without commit: nothing to send
        session.info.pop(_PENDING, None)
