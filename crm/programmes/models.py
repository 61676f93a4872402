"""Programmes and their immutable definition versions (stages, gates, checklist, actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field
from crm.workflow.definitions import ProgrammeDefinition, validate_definition


class Programme(Timestamped, table=True):
    __tablename__ = "programmes"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    name_en: str = Field(max_length=200)
    name_de: str = Field(max_length=200)
    description_en: str = Field(default="")
    description_de: str = Field(default="")
    current_version: int = Field(default=0)  # number of the version new enrollments use
    is_active: bool = Field(default=True, index=True)

    def name(self, locale: str) -> str:
        return self.name_de if locale == "de" else self.name_en


class ProgrammeVersion(SQLModel, table=True):
    """One loaded definition; never changed once written."""

    __tablename__ = "programme_versions"
    __table_args__ = (UniqueConstraint("programme_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programmes.id", index=True)
    number: int
    definition: dict[str, Any] = Field(sa_type=JSON)
    source_text: str = Field(sa_type=Text)
    checksum: str = Field(max_length=64)
    created_at: datetime = timestamp_field(default_now=True)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)

    @property
    def parsed(self) -> ProgrammeDefinition:
        """The validated definition (parsed once per process and checksum)."""
        cached = _PARSED.get(self.checksum)
        if cached is None:
            cached = _PARSED[self.checksum] = validate_definition(self.definition)
        return cached


_PARSED: dict[str, ProgrammeDefinition] = {}
