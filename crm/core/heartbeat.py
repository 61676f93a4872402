"""Heartbeats that background processes leave, so /healthz can tell they are alive."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel

from crm.core.clock import utcnow
from crm.core.types import timestamp_field


class ServiceHeartbeat(SQLModel, table=True):
    __tablename__ = "service_heartbeats"

    name: str = Field(max_length=64, primary_key=True)
    last_seen_at: datetime = timestamp_field(default_now=True)


def beat(db: Session, name: str) -> ServiceHeartbeat:
    """Record that `name` is alive now."""
    heartbeat = db.get(ServiceHeartbeat, name) or ServiceHeartbeat(name=name)
    heartbeat.last_seen_at = utcnow()
    db.add(heartbeat)
    return heartbeat


def last_seen(db: Session, name: str) -> datetime | None:
    heartbeat = db.get(ServiceHeartbeat, name)
    return heartbeat.last_seen_at if heartbeat else None
