"""Enrollments of startups in programmes and the append-only history of their stages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, String, UniqueConstraint, text
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from crm.core.enums import ActorKind, EnrollmentStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class Enrollment(Timestamped, table=True):
    __tablename__ = "enrollments"
    __table_args__ = (
        # One open enrollment per startup and programme; closed ones may repeat.
        Index(
            "uq_enrollments_open_startup_programme",
            "startup_id",
            "programme_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The board's counts per stage (and overdue ones) read only this index.
        Index("ix_enrollments_programme_status_stage_due", "programme_id", "status", "stage",
              "due_at"),
        # A board column, longest waiting first: its pages are index range scans (keyset).
        Index("ix_enrollments_board_column", "programme_id", "stage", "stage_entered_at", "id"),
        # The same for one country or one owner (the board's common filters), with status and
        # due date so that the column's capped counts read the index alone.
        Index("ix_enrollments_country_column", "programme_id", "country", "stage",
              "stage_entered_at", "id", "status", "due_at"),
        Index("ix_enrollments_owner_column", "programme_id", "owner_id", "stage",
              "stage_entered_at", "id", "status", "due_at"),
        # Landings in a period (reports, the weekly trend).
        Index("ix_enrollments_status_closed", "status", "closed_at"),
        # What is overdue, most overdue first (reports, reminders): open enrollments only.
        Index("ix_enrollments_open_due", "due_at", sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        # An UPDATE carrying an older revision changes nothing and raises StaleDataError.
        return {"version_id_col": cls.__table__.c.revision}

    id: int | None = Field(default=None, primary_key=True)
    startup_id: int = Field(foreign_key="startups.id", index=True, ondelete="CASCADE")
    programme_id: int = Field(foreign_key="programmes.id", index=True)
    programme_version_id: int = Field(foreign_key="programme_versions.id", index=True)
    stage: str = Field(max_length=64)
    stage_entered_at: datetime = timestamp_field(default_now=True)
    due_at: datetime | None = timestamp_field(nullable=True, index=True)
    status: EnrollmentStatus = Field(
        default=EnrollmentStatus.OPEN, sa_type=String(16), index=True
    )
    closed_at: datetime | None = timestamp_field(nullable=True)
    close_reason: str | None = Field(default=None, max_length=500)
    # Answers to the programme's enrollment fields, e.g. {"referred_by": "karnataka"}.
    fields: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    revision: int = Field(default=1)  # bumped by SQLAlchemy on every UPDATE
    # Copies of the startup's country and owner, written by database triggers only (on insert,
    # when the enrollment moves to another startup, when the startup's country or owner
    # changes; migration 4c1e2a9b7d31). The board and the list filter by them without reading
    # every startup of a country. Never set them here: None in a new object's memory.
    country: str | None = Field(default=None, max_length=2)
    owner_id: int | None = Field(default=None)


class StageEvent(SQLModel, table=True):
    """One stage change; rows are only ever inserted."""

    __tablename__ = "stage_events"
    __table_args__ = (
        Index("ix_stage_events_enrollment_occurred", "enrollment_id", "occurred_at"),
        # Events in a period; which enrollments moved since a moment is read from it alone.
        Index("ix_stage_events_occurred_enrollment", "occurred_at", "enrollment_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollments.id", index=True, ondelete="CASCADE")
    from_stage: str | None = Field(default=None, max_length=64)
    to_stage: str = Field(max_length=64, index=True)
    actor_kind: ActorKind = Field(default=ActorKind.USER, sa_type=String(16))
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    occurred_at: datetime = timestamp_field(default_now=True)
    seconds_in_previous_stage: int | None = None
    note: str | None = Field(default=None, max_length=500)


class ChecklistStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"

    @property
    def is_settled(self) -> bool:
        return self is not ChecklistStatus.OPEN


class ChecklistItem(Timestamped, table=True):
    """One landing-readiness item of an enrollment, as declared in its programme version."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("enrollment_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollments.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    status: ChecklistStatus = Field(default=ChecklistStatus.OPEN, sa_type=String(16), index=True)
    due_at: datetime | None = timestamp_field(nullable=True, index=True)
    expires_at: datetime | None = timestamp_field(nullable=True, index=True)
    evidence_note: str | None = Field(default=None, max_length=2000)
    evidence_document_id: int | None = Field(
        default=None, foreign_key="documents.id", index=True, ondelete="SET NULL"
    )
    settled_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    settled_at: datetime | None = timestamp_field(nullable=True)
