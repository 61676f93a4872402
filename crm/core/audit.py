"""Audit events: who did what to which record, and every login attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, Index
from sqlmodel import Field, Session, SQLModel

from crm.core.types import timestamp_field


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = timestamp_field(default_now=True, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(max_length=64, index=True)  # e.g. "auth.login_failed", "user.role_changed"
    object_type: str | None = Field(default=None, max_length=64)
    object_id: int | None = None
    ip_address: str | None = Field(default=None, max_length=45)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


def record(
    db: Session,
    action: str,
    *,
    actor_user_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    ip_address: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the caller's transaction: it stands or falls with the change.
    Recorded during a request, it names the request's address unless told another."""
    if ip_address is None and has_request_context():
        ip_address = request.remote_addr
    event = AuditEvent(
        action=action,
        actor_user_id=actor_user_id,
        object_type=object_type,
        object_id=object_id,
        ip_address=ip_address,
        details=details,
    )
    db.add(event)
    return event
