"""Pairs of startups a person has confirmed are not duplicates, so they are not offered again."""

from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlmodel import Field

from crm.core.mixins import Timestamped


class DuplicateDismissal(Timestamped, table=True):
    __tablename__ = "duplicate_dismissals"
    __table_args__ = (CheckConstraint("first_startup_id < second_startup_id",
                                      name="ck_duplicate_dismissals_ordered"),)

    first_startup_id: int = Field(foreign_key="startups.id", primary_key=True,
                                  ondelete="CASCADE")
    second_startup_id: int = Field(foreign_key="startups.id", primary_key=True, index=True,
                                   ondelete="CASCADE")
    dismissed_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
