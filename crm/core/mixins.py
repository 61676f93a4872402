"""Columns most tables share: created and updated timestamps."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import SQLModel

from crm.core.types import timestamp_field


class Timestamped(SQLModel):
    created_at: datetime = timestamp_field(default_now=True)
    updated_at: datetime = timestamp_field(default_now=True, on_update=True)
