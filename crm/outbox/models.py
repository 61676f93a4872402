"""One row per email to send; the unique dedupe key makes queuing idempotent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from crm.core.enums import Language, OutboxStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class OutboxMessage(Timestamped, table=True):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        # The Outbox page filtered by status, newest first (keyset by id).
        Index("ix_outbox_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    to_address: str = Field(max_length=254)
    locale: Language = Field(default=Language.EN, sa_type=String(8))
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str | None = None
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=True)
    last_error: str | None = None
    sent_at: datetime | None = timestamp_field(nullable=True)
    startup_id: int | None = Field(
        default=None, foreign_key="startups.id", index=True, ondelete="SET NULL"
    )
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class OutboxAttachment(SQLModel, table=True):
    """A file sent with a message: attached, or inline in the HTML when it has a content id."""

    __tablename__ = "outbox_attachments"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox_messages.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content_id: str | None = Field(default=None, max_length=100)  # cid: of an inline image
    content: bytes = Field(sa_type=LargeBinary)
