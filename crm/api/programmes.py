"""/api/v1 programmes (read only): the programmes, and one programme's current definition —
stages with their SLAs and allowed moves, checklist items, enrollment fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from crm.api.blueprint import api, tag
from crm.api.common import (
    ListQuery,
    id_page,
    json_response,
    page_response,
    read_responses,
)
from crm.api.problems import ApiProblem
from crm.db import get_session
from crm.programmes.models import Programme, ProgrammeVersion
from crm.workflow.definitions import Bilingual, ItemOwner, ProgrammeDefinition

TAGS = tag("Programmes", "The programmes startups enroll in, as their definitions describe them.")
CURSOR_KIND = "programmes"


class ProgrammeSummary(BaseModel):
    key: str
    name: Bilingual
    active: bool = Field(description="Closed programmes take no new enrollments.")
    current_version: int = Field(description="The definition version new enrollments use.")


class ProgrammePage(BaseModel):
    items: list[ProgrammeSummary]
    next_cursor: str | None


class StageOut(BaseModel):
    key: str
    label: Bilingual
    sla_working_days: int | None = Field(description="Working days (NRW) an enrollment may "
                                         "spend in the stage before it is overdue.")
    closes_as: Literal["landed", "withdrawn", "rejected"] | None = Field(
        description="The enrollment status this stage ends with; null for an active stage.")
    next_stages: list[str] = Field(description="The stages an enrollment may move to from here.")


class ChecklistItemOut(BaseModel):
    key: str
    label: Bilingual
    owner: ItemOwner = Field(description="Who does it: the startup, the desk or a provider.")
    depends_on: list[str]
    due_in_working_days: int | None
    expires: bool = Field(description="The item carries an expiry date (permits, visas).")


class ChoiceOut(BaseModel):
    value: str
    label: Bilingual


class EnrollmentFieldOut(BaseModel):
    key: str
    label: Bilingual
    choices: list[ChoiceOut] = Field(description="Empty: free text.")


class ProgrammeOut(ProgrammeSummary):
    description: Bilingual
    stages: list[StageOut]
    checklist: list[ChecklistItemOut]
    fields: list[EnrollmentFieldOut] = Field(description="What the desk records per enrollment.")


class ProgrammePath(BaseModel):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")


def _summary(programme: Programme) -> ProgrammeSummary:
    return ProgrammeSummary(key=programme.key, name=Bilingual(en=programme.name_en,
                                                              de=programme.name_de),
                            active=programme.is_active, current_version=programme.current_version)


def programme_out(programme: Programme, definition: ProgrammeDefinition) -> ProgrammeOut:
    return ProgrammeOut(
        **_summary(programme).model_dump(), description=definition.description,
        stages=[StageOut(key=stage.key, label=stage.label,
                         sla_working_days=stage.sla_working_days, closes_as=stage.closes_as,
                         next_stages=definition.allowed_targets(stage.key))
                for stage in definition.stages],
        checklist=[ChecklistItemOut(key=item.key, label=item.label, owner=item.owner,
                                    depends_on=item.depends_on,
                                    due_in_working_days=item.due_in_working_days,
                                    expires=item.expires) for item in definition.checklist],
        fields=[EnrollmentFieldOut(key=field.key, label=field.label,
                                   choices=[ChoiceOut(value=choice.value,
                                                      label=choice.label)
                                            for choice in field.choices])
                for field in definition.fields])


@api.get("/programmes", tags=TAGS, summary="List programmes",
         description="Every programme, closed ones included, in the order they were created.",
         responses=read_responses(ProgrammePage))
def list_programmes(query: ListQuery):
    page, next_cursor = id_page(select(Programme), Programme.id, CURSOR_KIND, query)
    return page_response(ProgrammePage(items=[_summary(programme) for programme, in page],
                                       next_cursor=next_cursor), next_cursor)


@api.get("/programmes/<key>", tags=TAGS, summary="One programme and its current definition",
         responses=read_responses(ProgrammeOut))
def show_programme(path: ProgrammePath):
    found = get_session().execute(
        select(Programme, ProgrammeVersion)
        .join(ProgrammeVersion, (ProgrammeVersion.programme_id == Programme.id)
              & (ProgrammeVersion.number == Programme.current_version))
        .where(Programme.key == path.key)).first()
    if found is None:  # no such programme (every stored one has its definition loaded)
        raise ApiProblem(404, "No programme has this key.")
    programme, version = found
    return json_response(programme_out(programme, version.parsed))
