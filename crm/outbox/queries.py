"""Reads of the outbox: counts by status, the oldest due message, the Outbox page's list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.core.enums import OutboxStatus
from crm.outbox.models import OutboxAttachment, OutboxMessage

PAGE_SIZE = 50
_WAITING = (OutboxStatus.PENDING, OutboxStatus.FAILED)


@dataclass(frozen=True)
class OutboxSummary:
    """How many messages are in each status; the earliest moment a message still waiting
    became due (None: none is due)."""

    counts: dict[OutboxStatus, int] = field(default_factory=dict)
    oldest_due_at: datetime | None = None

    def count(self, status: OutboxStatus) -> int:
        return self.counts.get(status, 0)


def outbox_summary(db: Session, now: datetime, *, count_sent: bool = False) -> OutboxSummary:
    """One aggregate query on the status index. Sent messages pile up for ever, so they are
    counted only when asked for (`crm outbox status`), not by pages and /healthz."""
    statuses = [status for status in OutboxStatus if count_sent or status != OutboxStatus.SENT]
    due_at = case((OutboxMessage.status.in_(_WAITING) & (OutboxMessage.next_attempt_at <= now),
                   OutboxMessage.next_attempt_at))
    rows = db.execute(select(OutboxMessage.status, func.count(), func.min(due_at))
                      .where(OutboxMessage.status.in_(statuses))
                      .group_by(OutboxMessage.status)).all()
    due = [oldest for _status, _count, oldest in rows if oldest is not None]
    return OutboxSummary(counts={OutboxStatus(status): count for status, count, _ in rows},
                         oldest_due_at=min(due) if due else None)


def message_page(db: Session, status: OutboxStatus | None, before_id: int | None
                 ) -> tuple[list[OutboxMessage], int | None]:
    """One page of messages, newest first, in one status or all, older than `before_id` if
    given; and the `before_id` of the next page (None: this is the last). The bodies stay in
    the database (a weekly report's HTML is large)."""
    query = (select(OutboxMessage)
             .options(defer(OutboxMessage.body_text, raiseload=True),
                      defer(OutboxMessage.body_html, raiseload=True))
             .order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE + 1))
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    found = list(db.scalars(query))
    more = len(found) > PAGE_SIZE
    return found[:PAGE_SIZE], found[PAGE_SIZE - 1].id if more else None


def attachments_of(db: Session, message_id: int) -> list[OutboxAttachment]:
    return list(db.scalars(select(OutboxAttachment)
                           .where(OutboxAttachment.message_id == message_id)
                           .order_by(OutboxAttachment.id)))
