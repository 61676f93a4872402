"""Column types shared by every domain: timezone-aware UTC timestamps on any database."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic_core import PydanticUndefined
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from crm.core.clock import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite gives naive values back, so mark them UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def timestamp_field(
    *,
    nullable: bool = False,
    index: bool = False,
    default_now: bool = False,
    on_update: bool = False,
):
    """A UTCDateTime column; `default_now`/`on_update` take the time from the injectable clock."""
    return Field(
        default=None if nullable and not default_now else PydanticUndefined,
        default_factory=utcnow if default_now else None,
        sa_type=UTCDateTime(),
        sa_column_kwargs={"onupdate": utcnow} if on_update else {},
        nullable=nullable,
        index=index,
    )
