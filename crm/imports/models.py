"""An import of startups from a CSV or XLSX file, and column mappings remembered per header set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlmodel import Field

from crm.core.enums import ImportStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class ImportJob(Timestamped, table=True):
    __tablename__ = "import_jobs"

    id: int | None = Field(default=None, primary_key=True)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    filename: str = Field(max_length=255)  # as uploaded; shown to staff only
    storage_key: str = Field(max_length=64, unique=True)  # the file under the upload folder
    sha256: str = Field(max_length=64)
    header_signature: str = Field(max_length=64, index=True)
    headers: list[str] = Field(default_factory=list, sa_type=JSON)
    mapping: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # column -> field
    status: ImportStatus = Field(default=ImportStatus.UPLOADED, sa_type=String(16), index=True)
    dry_run: bool = False  # queued or running: a check that writes nothing but the report
    total_rows: int = 0
    processed_rows: int = 0
    created_count: int = 0
    updated_count: int = 0
    duplicate_count: int = 0
    error_count: int = 0
    report: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)  # per-row outcome
    error: str | None = Field(default=None, max_length=500)  # why the whole file failed
    started_at: datetime | None = timestamp_field(nullable=True)
    finished_at: datetime | None = timestamp_field(nullable=True)


class ImportMapping(Timestamped, table=True):
    """The mapping last used for files with this set of headers, offered again next time."""

    __tablename__ = "import_mappings"

    header_signature: str = Field(max_length=64, primary_key=True)
    mapping: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
