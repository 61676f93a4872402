"""Consent records (who agreed to what text, when, and whether they took it back) and the log
of retention runs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlmodel import Field, SQLModel

from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class ConsentPurpose(StrEnum):
    # Processing the application and the programme with the data given, and emails about it.
    APPLICATION = "application"


class ConsentSource(StrEnum):
    INTAKE = "intake"  # the applicant ticked the box when submitting
    STAFF = "staff"  # staff recorded it (given or withdrawn by phone, letter, email)
    LINK = "link"  # withdrawn through the signed link in an email or on the intake pages


class ConsentRecord(Timestamped, table=True):
    """One consent of a contact or an applicant to one purpose, under one version of the text."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("contact_id IS NOT NULL OR application_id IS NOT NULL",
                        name="ck_consent_records_has_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True,
                                   ondelete="CASCADE")
    application_id: int | None = Field(default=None, foreign_key="applications.id", index=True,
                                       ondelete="CASCADE")
    purpose: ConsentPurpose = Field(default=ConsentPurpose.APPLICATION, sa_type=String(32))
    text_version: str = Field(max_length=32)
    given_at: datetime = timestamp_field()
    source: ConsentSource = Field(default=ConsentSource.INTAKE, sa_type=String(16))
    recorded_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    withdrawn_at: datetime | None = timestamp_field(nullable=True)
    withdrawn_via: ConsentSource | None = Field(default=None, sa_type=String(16))


class RetentionRun(SQLModel, table=True):
    """One run of a retention job: what it deleted, and the error that stopped it if any."""

    __tablename__ = "retention_runs"

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64, index=True)
    started_at: datetime = timestamp_field(default_now=True, index=True)
    finished_at: datetime | None = timestamp_field(nullable=True)
    deleted: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # what -> how many
    error: str | None = Field(default=None, max_length=500)
