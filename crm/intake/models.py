"""An application to a programme: the applicant's draft answers, resume link and consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field

from crm.core.enums import ApplicationStatus, Language
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class Application(Timestamped, table=True):
    __tablename__ = "applications"
    __table_args__ = (
        # Staff's list of unfinished and submitted applications, newest activity first.
        Index("ix_applications_status_activity", "status", "last_activity_at", "id"),
        # Round robin: the owner given to the programme's latest application.
        Index("ix_applications_programme_submitted", "programme_id", "submitted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programmes.id", index=True)
    status: ApplicationStatus = Field(default=ApplicationStatus.DRAFT, sa_type=String(16))
    # The applicant's address: where resume links and the confirmation go. Cleared on
    # withdrawal, with the answers and documents.
    email: str | None = Field(default=None, max_length=254, index=True)
    locale: Language = Field(default=Language.EN, sa_type=String(8))
    # {step: {question: answer}} for the steps saved so far.
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    step: str = Field(default="company", max_length=32)  # where the applicant continues
    last_activity_at: datetime = timestamp_field(default_now=True)
    # The resume link: only its hash, single-use, expiring; a new link replaces the old.
    link_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    link_expires_at: datetime | None = timestamp_field(nullable=True)
    consent_version: str | None = Field(default=None, max_length=32)
    consent_given_at: datetime | None = timestamp_field(nullable=True)
    submitted_at: datetime | None = timestamp_field(nullable=True)
    withdrawn_at: datetime | None = timestamp_field(nullable=True)
    # Set on submit (the startup found or created), or at once for an invitation.
    startup_id: int | None = Field(default=None, foreign_key="startups.id", index=True,
                                   ondelete="SET NULL")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id", index=True,
                                      ondelete="SET NULL")
    invited_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # The owner the programme's rule chose on submit (None: the startup kept its owner).
    assigned_owner_id: int | None = Field(default=None, foreign_key="users.id", index=True)

    def answer(self, step: str, question: str, default: Any = None) -> Any:
        return (self.answers.get(step) or {}).get(question, default)
