"""A stored file: its original name, checked type, size, checksum and random storage key."""

from __future__ import annotations

from sqlmodel import Field

from crm.core.mixins import Timestamped


class Document(Timestamped, table=True):
    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    startup_id: int = Field(foreign_key="startups.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    uploaded_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
