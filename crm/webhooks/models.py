"""Webhook endpoints admins register, and one delivery row per event and endpoint (the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field

from crm.core.enums import OutboxStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class WebhookEndpoint(Timestamped, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: list[str] = Field(default_factory=list, sa_type=JSON)
    # The signing secret, encrypted with a key derived from SECRET_KEY (crm/core/secrets.py).
    secret_encrypted: str = Field(sa_type=Text)
    active: bool = Field(default=True)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class WebhookDelivery(Timestamped, table=True):
    """One event for one endpoint; the unique dedupe key makes queuing it idempotent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),  # an endpoint's log
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event: str = Field(max_length=64)
    event_id: str = Field(max_length=36)  # a UUID, the same in every endpoint's copy
    dedupe_key: str = Field(max_length=120, unique=True)  # "<endpoint id>:<event id>"
    payload: str = Field(sa_type=Text)  # the JSON body exactly as it is signed and sent
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=True)
    last_error: str | None = Field(default=None, max_length=500)
    response_status: int | None = None
    response_ms: int | None = None
    delivered_at: datetime | None = timestamp_field(nullable=True)
