"""One row per reminder owed to someone; its unique key is what makes sending it exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from crm.core.enums import ReminderKind
from crm.core.types import timestamp_field


class Reminder(SQLModel, table=True):
    """A reminder of one kind about one thing to one recipient, inserted once (dedupe_key).

    `occurrence_at` says which occurrence it is about (the stage entry of an SLA reminder, the
    expiry of a checklist item), so a new stage entry or a renewed permit is reminded again.
    `delivered_at` is set when it went out, alone or in a digest."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_enrollment_kind", "enrollment_id", "kind", "occurrence_at"),
        Index("ix_reminders_user_undelivered", "user_id", "delivered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    kind: ReminderKind = Field(sa_type=String(32))
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    enrollment_id: int | None = Field(
        default=None, foreign_key="enrollments.id", ondelete="CASCADE"
    )
    application_id: int | None = Field(
        default=None, foreign_key="applications.id", index=True, ondelete="CASCADE"
    )
    checklist_item_id: int | None = Field(
        default=None, foreign_key="checklist_items.id", index=True, ondelete="CASCADE"
    )
    occurrence_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field(default_now=True)
    delivered_at: datetime | None = timestamp_field(nullable=True)
    outbox_message_id: int | None = Field(
        default=None, foreign_key="outbox_messages.id", index=True, ondelete="SET NULL"
    )
