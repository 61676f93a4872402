"""A stored file: its original name, checked type, size, checksum and random storage key."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlmodel import Field

from crm.core.mixins import Timestamped


class Document(Timestamped, table=True):
    __tablename__ = "documents"
    __table_args__ = (
        # An applicant's upload belongs to the draft until it is submitted; then to the startup.
        CheckConstraint("startup_id IS NOT NULL OR application_id IS NOT NULL",
                        name="ck_documents_belongs_somewhere"),
    )

    id: int | None = Field(default=None, primary_key=True)
    startup_id: int | None = Field(default=None, foreign_key="startups.id", index=True,
                                   ondelete="CASCADE")
    application_id: int | None = Field(default=None, foreign_key="applications.id",
                                       index=True, ondelete="CASCADE")
    # What an applicant uploaded it as ("pitch_deck", "company_papers"); None for evidence.
    kind: str | None = Field(default=None, sa_type=String(32))
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    uploaded_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
