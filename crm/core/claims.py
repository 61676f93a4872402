"""Claiming rows of an outbox table (emails, webhook deliveries) one at a time.

A row is due when it is pending or failed and its `next_attempt_at` has come, or when it is
`sending` and its claim has lapsed (the worker that claimed it died): while a row is being
sent, `next_attempt_at` holds the end of that claim (its lease). One UPDATE claims a row — on
PostgreSQL its subquery takes the row with FOR UPDATE SKIP LOCKED, so workers never wait for
each other — and counts the attempt; an outcome is stored only if the claim is still the
caller's. Each step commits at once: no transaction stays open while talking to a server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlmodel import Session

from crm.core.enums import OutboxStatus

CLAIMABLE = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING)


def due(model: Any, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return model.status.in_(CLAIMABLE), model.next_attempt_at <= now


def bury_interrupted(db: Session, model: Any, now: datetime, max_attempts: int) -> int:
    """Claims that lapsed on their last allowed attempt are not tried again (a row that kills
    its worker would otherwise be retried forever)."""
    buried = db.execute(
        update(model)
        .where(model.status == OutboxStatus.SENDING, model.next_attempt_at <= now,
               model.attempts >= max_attempts)
        .values(status=OutboxStatus.DEAD, next_attempt_at=None,
                last_error="delivery interrupted")
        .execution_options(synchronize_session=False)).rowcount
    db.commit()
    return buried


def claim_next(db: Session, model: Any, conditions: tuple, lease: datetime) -> int | None:
    """The id of the next row meeting `conditions` (at least `due(…)`), now `sending` until
    `lease` with its attempt counted; None when there is none (committed either way only by
    the caller, who reads the row first)."""
    candidate = (select(model.id).where(*conditions)
                 .order_by(model.next_attempt_at, model.id).limit(1)
                 .with_for_update(skip_locked=True)  # SQLite has no row locks: ignored there
                 .scalar_subquery())
    # The conditions again: under READ COMMITTED, another claim may have taken the row after
    # the subquery chose it.
    return db.scalar(
        update(model).where(model.id == candidate, *conditions)
        .values(status=OutboxStatus.SENDING, next_attempt_at=lease,
                attempts=model.attempts + 1)
        .returning(model.id)
        .execution_options(synchronize_session=False))


def record_outcome(db: Session, model: Any, row_id: int, lease: datetime, status: OutboxStatus,
                   **values: Any) -> OutboxStatus:
    """Store the outcome, if the claim is still ours (it lapses only if this run stalled)."""
    db.execute(
        update(model)
        .where(model.id == row_id, model.status == OutboxStatus.SENDING,
               model.next_attempt_at == lease)
        .values(status=status, **values)
        .execution_options(synchronize_session=False))
    db.commit()
    return status
