"""Startups and what hangs off them: sectors, tags, contacts, activities and tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlmodel import Field

from crm.core.enums import ActivityKind, FundingStage, Language, LeadSource, StartupStatus
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class Startup(Timestamped, table=True):
    __tablename__ = "startups"
    __table_args__ = (
        # The list's sorts walk these: (sort column, name or id) then id.
        Index("ix_startups_status_name", "status", "name"),
        Index("ix_startups_country_name", "country", "name"),
        Index("ix_startups_owner_name", "owner_id", "name"),
        Index("ix_startups_owner_created", "owner_id", "created_at"),  # a BD manager's new leads
        Index("ix_startups_created_id", "created_at", "id"),
        Index("ix_startups_updated_id", "updated_at", "id"),
        # Search is `search_text LIKE '%term%'`: trigrams find it without reading every row
        # (PostgreSQL; SQLite keeps a plain index it does not use for this).
        Index("ix_startups_search_text_trgm", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    website: str | None = Field(default=None, max_length=500)
    domain: str | None = Field(default=None, max_length=253, index=True)
    country: str = Field(max_length=2, index=True)  # ISO 3166-1 alpha-2
    city: str | None = Field(default=None, max_length=120)
    founded_year: int | None = None
    team_size: int | None = None
    funding_stage: FundingStage | None = Field(default=None, sa_type=String(16))
    description: str = Field(default="")
    source: LeadSource = Field(default=LeadSource.OTHER, sa_type=String(16), index=True)
    source_detail: str | None = Field(default=None, max_length=200, index=True)  # event name
    owner_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    status: StartupStatus = Field(default=StartupStatus.LEAD, sa_type=String(16), index=True)
    owner_assigned_at: datetime | None = timestamp_field(nullable=True, index=True)
    version: int = Field(default=1)  # optimistic concurrency for edits
    # Kept by crm.startups.search.refresh_search_fields whenever name, domain or contacts change:
    search_text: str = Field(default="", sa_type=Text)  # folded name, domain, contacts
    name_key: str = Field(default="", max_length=200, index=True)  # romanised, no legal form
    name_skeleton: str = Field(default="", max_length=200, index=True)  # duplicate blocking
    # GDPR Art. 18 (crm/gdpr/restriction.py): kept, but no edits, emails or reminders.
    restricted_at: datetime | None = timestamp_field(nullable=True)
    restricted_reason: str | None = Field(default=None, max_length=500)


class StartupSector(Timestamped, table=True):
    __tablename__ = "startup_sectors"

    startup_id: int = Field(foreign_key="startups.id", primary_key=True, ondelete="CASCADE")
    sector: str = Field(max_length=64, primary_key=True, index=True)


class StartupTag(Timestamped, table=True):
    __tablename__ = "startup_tags"

    startup_id: int = Field(foreign_key="startups.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(max_length=64, primary_key=True, index=True)


class Contact(Timestamped, table=True):
    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    startup_id: int = Field(foreign_key="startups.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=32)  # E.164
    role: str | None = Field(default=None, max_length=120)
    language: Language = Field(default=Language.EN, sa_type=String(8))
    consent_given_at: datetime | None = timestamp_field(nullable=True)
    consent_text_version: str | None = Field(default=None, max_length=32)
    restricted_at: datetime | None = timestamp_field(nullable=True)  # GDPR Art. 18
    restricted_reason: str | None = Field(default=None, max_length=500)
    version: int = Field(default=1)  # optimistic concurrency for edits


class Activity(Timestamped, table=True):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_startup_occurred", "startup_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    startup_id: int = Field(foreign_key="startups.id", index=True, ondelete="CASCADE")
    kind: ActivityKind = Field(sa_type=String(16), index=True)
    subject: str = Field(max_length=200)
    body: str = Field(default="")
    occurred_at: datetime = timestamp_field(default_now=True, index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class Task(Timestamped, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # Someone's open tasks by due moment (My work's groups are ranges of it).
        Index("ix_tasks_assignee_open", "assignee_id", "due_at",
              sqlite_where=text("done_at IS NULL"), postgresql_where=text("done_at IS NULL")),
        # Overdue tasks, most overdue first (reports): open ones only.
        Index("ix_tasks_open_due", "due_at", sqlite_where=text("done_at IS NULL"),
              postgresql_where=text("done_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="")
    startup_id: int | None = Field(
        default=None, foreign_key="startups.id", index=True, ondelete="CASCADE"
    )
    enrollment_id: int | None = Field(
        default=None, foreign_key="enrollments.id", index=True, ondelete="CASCADE"
    )
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    due_at: datetime | None = timestamp_field(nullable=True, index=True)
    # Not indexed alone: SQLite would take `done_at IS NULL` for a rare value and walk every
    # open task; the partial indexes above serve open tasks.
    done_at: datetime | None = timestamp_field(nullable=True)


class SavedView(Timestamped, table=True):
    """A user's named startups-list view: the list's query string, replayed as a link."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    query: str = Field(max_length=2000)
