"""An export of a startups-list view, written by a worker when it is too large for one request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field

from crm.core.enums import ExportStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class ExportJob(Timestamped, table=True):
    __tablename__ = "export_jobs"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    query: str = Field(max_length=2000)  # the list view's query string
    file_format: str = Field(max_length=8)  # "csv" or "xlsx"
    status: ExportStatus = Field(default=ExportStatus.QUEUED, sa_type=String(16), index=True)
    row_count: int = 0
    storage_key: str | None = Field(default=None, max_length=64, unique=True)
    error: str | None = Field(default=None, max_length=500)
    finished_at: datetime | None = timestamp_field(nullable=True)
