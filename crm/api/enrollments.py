"""/api/v1/enrollments: startups' enrollments in programmes, listed and read; enroll and move
through the workflow engine, with the same gates and refusals as the startup page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import request, url_for
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.api.blueprint import actor, api, tag
from crm.api.common import (
    ListQuery,
    Precondition,
    Strict,
    id_page,
    json_response,
    page_response,
    read_responses,
    write_responses,
)
from crm.api.guards import refuse_restricted
from crm.api.problems import ApiProblem, FieldError
from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus
from crm.db import get_or_404, get_session
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Startup
from crm.workflow import engine
from crm.workflow.definitions import Bilingual, ProgrammeDefinition, StageDefinition
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment

TAGS = tag("Enrollments", "Startups' enrollments in programmes and their moves between stages.")
CURSOR_KIND = "enrollments"

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
FieldValue = Annotated[str, StringConstraints(max_length=500)]


# Models -----------------------------------------------------------------------------------


class Stage(BaseModel):
    key: str
    label: Bilingual


class EnrollmentSummary(BaseModel):
    id: int
    startup_id: int
    programme: str = Field(description="The programme's key.")
    stage: Stage
    status: EnrollmentStatus
    stage_entered_at: datetime
    due_at: datetime | None = Field(description="When the stage's time runs out (its SLA).")
    overdue: bool
    closed_at: datetime | None
    close_reason: str | None
    revision: int = Field(description="Send it back (or the ETag as If-Match) with a move.")
    fields: dict[str, str] = Field(description="Answers to the programme's enrollment fields.")


class EnrollmentPage(BaseModel):
    items: list[EnrollmentSummary]
    next_cursor: str | None


class ChecklistEntry(BaseModel):
    key: str
    label: Bilingual
    status: ChecklistStatus
    due_at: datetime | None
    expires_at: datetime | None


class EnrollmentOut(EnrollmentSummary):
    checklist: list[ChecklistEntry]
    allowed_moves: list[Stage] = Field(description="The stages a move may go to now (their "
                                       "gates may still refuse); empty once closed.")


class StageEventOut(BaseModel):
    from_stage: str | None
    to_stage: str
    occurred_at: datetime
    note: str | None


class MoveOut(BaseModel):
    event: StageEventOut
    enrollment: EnrollmentOut


class MissingOut(BaseModel):
    kind: str = Field(description="checklist, startup_field, enrollment_field or contact_email")
    key: str
    label: Bilingual


class EnrollmentListQuery(ListQuery):
    programme: Key | None = Field(default=None, description="A programme's key.")
    stage: Key | None = Field(default=None, description="A stage's key.")
    status: EnrollmentStatus | None = None
    startup_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    overdue: bool = Field(default=False, description="Only open enrollments past their due "
                          "date.")
    owner: str | None = Field(default=None, pattern=r"^(me|none|\d{1,9})$",
                              description="The startup's owner: a user id, `me` or `none`.")


class EnrollmentPath(BaseModel):
    enrollment_id: int = Field(ge=1, le=2**31 - 1)


class EnrollmentCreate(Strict):
    startup_id: int = Field(ge=1, le=2**31 - 1)
    programme: Key = Field(description="The programme's key.")
    stage: Key | None = Field(default=None, description="Default: the programme's first stage.")
    fields: dict[Key, FieldValue] = Field(default_factory=dict, max_length=50)


class MoveCreate(Strict):
    to_stage: Key
    note: str | None = Field(default=None, max_length=500, description="Required when the "
                             "stage closes the enrollment other than as landed: the reason.")
    revision: int | None = Field(default=None, ge=1, description="The revision the move is "
                                 "based on (or If-Match); without either, the move applies to "
                                 "the enrollment as it is now.")


# Reading ----------------------------------------------------------------------------------


def _definitions(db: Session, version_ids: set[int]) -> dict[int, ProgrammeDefinition]:
    """The parsed definitions of these programme versions (one query)."""
    if not version_ids:
        return {}
    return {version.id: version.parsed for version in db.scalars(
        select(ProgrammeVersion).where(ProgrammeVersion.id.in_(version_ids))
        .options(defer(ProgrammeVersion.source_text)))}


def _stage(definition: ProgrammeDefinition, key: str) -> Stage:
    try:
        return Stage(key=key, label=definition.stage(key).label)
    except KeyError:  # a stage of an older definition, kept as its key
        return Stage(key=key, label=Bilingual(en=key, de=key))


def _summary_values(enrollment: Enrollment, programme_key: str,
                    definition: ProgrammeDefinition, now: datetime) -> dict:
    return {
        "id": enrollment.id, "startup_id": enrollment.startup_id, "programme": programme_key,
        "stage": _stage(definition, enrollment.stage), "status": enrollment.status,
        "stage_entered_at": enrollment.stage_entered_at, "due_at": enrollment.due_at,
        "overdue": (enrollment.status == EnrollmentStatus.OPEN and enrollment.due_at is not None
                    and enrollment.due_at <= now),
        "closed_at": enrollment.closed_at, "close_reason": enrollment.close_reason,
        "revision": enrollment.revision, "fields": dict(enrollment.fields),
    }


def enrollment_out(db: Session, enrollment: Enrollment) -> EnrollmentOut:
    db.flush()  # after a change: its revision is final before it is shown
    programme = db.get(Programme, enrollment.programme_id)
    definition = engine.definition_of(db, enrollment)
    declared = {item.key: item.label for item in definition.checklist}
    items = db.scalars(select(ChecklistItem).where(ChecklistItem.enrollment_id == enrollment.id)
                       .order_by(ChecklistItem.id))
    moves = (definition.allowed_targets(enrollment.stage)
             if enrollment.status == EnrollmentStatus.OPEN else [])
    return EnrollmentOut(
        **_summary_values(enrollment, programme.key, definition, utcnow()),
        checklist=[ChecklistEntry(key=item.key, label=declared.get(item.key) or Bilingual(
            en=item.key, de=item.key), status=item.status, due_at=item.due_at,
                                  expires_at=item.expires_at) for item in items],
        allowed_moves=[_stage(definition, key) for key in moves])


def _programme_id(db: Session, key: str, field: str) -> int:
    found = db.scalar(select(Programme.id).where(Programme.key == key))
    if found is None:
        raise ApiProblem(422, "There is no programme with this key.", kind="invalid-fields",
                         errors=[FieldError(field=field, message="No such programme.",
                                            code="unknown_programme")])
    return found


@api.get("/enrollments", tags=TAGS, summary="List enrollments",
         description="Oldest first (by id); keyset pages: pass `next_cursor` as `cursor` for "
                     "the next one. `overdue` is true for an open enrollment whose stage is "
                     "past its due date.",
         responses=read_responses(EnrollmentPage))
def list_enrollments(query: EnrollmentListQuery):
    db = get_session()
    now = utcnow()
    statement = (select(Enrollment, Programme.key)
                 .join(Programme, Programme.id == Enrollment.programme_id))
    if query.programme:
        statement = statement.where(
            Enrollment.programme_id == _programme_id(db, query.programme, "query.programme"))
    if query.stage:
        statement = statement.where(Enrollment.stage == query.stage)
    if query.status:
        statement = statement.where(Enrollment.status == query.status)
    if query.startup_id:
        statement = statement.where(Enrollment.startup_id == query.startup_id)
    if query.overdue:
        statement = statement.where(Enrollment.status == EnrollmentStatus.OPEN,
                                    Enrollment.due_at <= now)
    if query.owner == "none":
        statement = statement.where(Enrollment.owner_id.is_(None))
    elif query.owner:
        owner_id = actor().id if query.owner == "me" else int(query.owner)
        statement = statement.where(Enrollment.owner_id == owner_id)
    page, next_cursor = id_page(statement, Enrollment.id, CURSOR_KIND, query)
    definitions = _definitions(db, {enrollment.programme_version_id for enrollment, _ in page})
    items = [EnrollmentSummary(**_summary_values(
        enrollment, key, definitions[enrollment.programme_version_id], now))
        for enrollment, key in page]
    return page_response(EnrollmentPage(items=items, next_cursor=next_cursor), next_cursor)


@api.get("/enrollments/<int:enrollment_id>", tags=TAGS, summary="One enrollment",
         description="With its checklist and the stages it may move to; the ETag is its "
                     "revision.",
         responses=read_responses(EnrollmentOut))
def show_enrollment(path: EnrollmentPath):
    enrollment = get_or_404(Enrollment, path.enrollment_id)
    return json_response(enrollment_out(get_session(), enrollment),
                         version=enrollment.revision)


# Changing ---------------------------------------------------------------------------------


def _stages(definition: ProgrammeDefinition, stages: list[StageDefinition]) -> list[dict]:
    return [_stage(definition, stage.key).model_dump() for stage in stages]


def _refusal(error: engine.WorkflowError, definition: ProgrammeDefinition,
             allowed: list[StageDefinition]) -> ApiProblem:
    """The engine's refusal as a problem; `allowed`: the stages that could be entered."""
    detail = str(error.message)
    if isinstance(error, engine.GateNotMet):
        return ApiProblem(409, detail, kind="gate-not-met", stage=error.stage.key,
                          missing=[MissingOut(kind=item.kind, key=item.key,
                                              label=item.label).model_dump()
                                   for item in error.missing])
    if isinstance(error, engine.TransitionNotAllowed):
        return ApiProblem(409, detail, kind="transition-not-allowed",
                          allowed=_stages(definition, allowed))
    if isinstance(error, engine.EnrollmentClosed):
        return ApiProblem(409, detail, kind="enrollment-closed")
    if isinstance(error, engine.AlreadyEnrolled):
        return ApiProblem(409, detail, kind="already-enrolled")
    return ApiProblem(422, detail, kind="workflow-refused")


@api.post("/enrollments", tags=TAGS, summary="Enroll a startup in a programme",
          description="At `stage` (default: the first stage) of the programme's current "
                      "version, with the stage's gate checked; 409 `already-enrolled` if the "
                      "startup has an open enrollment in the programme.",
          responses=write_responses(201, EnrollmentOut))
def create_enrollment(body: EnrollmentCreate):
    db = get_session()
    startup = db.get(Startup, body.startup_id)
    if startup is None:
        raise ApiProblem(422, "There is no startup with this id.", kind="invalid-fields",
                         errors=[FieldError(field="body.startup_id", message="No such startup.",
                                            code="unknown_startup")])
    programme = db.get(Programme, _programme_id(db, body.programme, "body.programme"))
    refuse_restricted(startup)
    try:
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.user(actor()), stage=body.stage,
                                   fields=body.fields)
    except engine.WorkflowError as error:
        definition = engine.current_version(db, programme).parsed
        raise _refusal(error, definition, definition.active_stages()) from None
    return json_response(enrollment_out(db, enrollment), 201, version=enrollment.revision,
                         location=url_for("api.show_enrollment", enrollment_id=enrollment.id))


def _stale(precondition: Precondition | None, current: int) -> ApiProblem:
    if precondition is not None:
        return precondition.stale(current)
    return ApiProblem(409, "The enrollment changed while it was being moved. Read it again.",
                      kind="stale", current_version=current)


@api.post("/enrollments/<int:enrollment_id>/moves", tags=TAGS,
          summary="Move an enrollment to another stage",
          description="Through the workflow engine, as on the startup page: the move must be "
                      "allowed from the current stage (409 `transition-not-allowed`, with the "
                      "`allowed` stages) and the target's gate met (409 `gate-not-met`, with "
                      "what is `missing`). A closing stage ends the enrollment; other than "
                      "landed it needs a `note` (the reason; 422 otherwise). `revision` or "
                      "If-Match is optional: given, an enrollment changed since is refused "
                      "(409, or 412 for If-Match, kind `stale`, `current_version` holding its "
                      "revision). Answers 200 with the stage event and the enrollment after "
                      "the move (the ETag is its new revision).",
          responses=write_responses(200, MoveOut, 412))
def move_enrollment(path: EnrollmentPath, body: MoveCreate):
    db = get_session()
    enrollment = get_or_404(Enrollment, path.enrollment_id)
    refuse_restricted(db.get(Startup, enrollment.startup_id))
    precondition = (Precondition(body.revision)
                    if body.revision is not None or "If-Match" in request.headers else None)
    try:
        event = engine.move(
            db, enrollment, body.to_stage, Actor.user(actor()), note=body.note,
            expected_revision=precondition.version if precondition else None)
    except engine.EnrollmentChanged:
        db.rollback()  # a lost race leaves the session unusable; read the revision anew
        current = db.scalar(select(Enrollment.revision)
                            .where(Enrollment.id == path.enrollment_id))
        raise _stale(precondition, current) from None
    except engine.WorkflowError as error:
        definition = engine.definition_of(db, enrollment)
        allowed = [definition.stage(key) for key in definition.allowed_targets(enrollment.stage)]
        raise _refusal(error, definition, allowed) from None
    moved = MoveOut(event=StageEventOut(from_stage=event.from_stage, to_stage=event.to_stage,
                                        occurred_at=event.occurred_at, note=event.note),
                    enrollment=enrollment_out(db, enrollment))
    return json_response(moved, version=enrollment.revision)
