"""A programme a startup can be enrolled in, with its ordered stages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from crm.core.mixins import Timestamped


class Programme(Timestamped, table=True):
    __tablename__ = "programmes"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    name_en: str = Field(max_length=200)
    name_de: str = Field(max_length=200)
    description_en: str = Field(default="")
    description_de: str = Field(default="")
    # Ordered stages: [{"key", "label_en", "label_de", "terminal": "won" | "lost" | None}]
    stages: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    is_active: bool = Field(default=True, index=True)

    def name(self, locale: str) -> str:
        return self.name_de if locale == "de" else self.name_en

    def stage_label(self, stage_key: str, locale: str) -> str:
        for stage in self.stages:
            if stage["key"] == stage_key:
                return stage["label_de"] if locale == "de" else stage["label_en"]
        return stage_key
