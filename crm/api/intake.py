"""/api/v1/intake-submissions: a whole application from an outside form (the city's website),
checked by the public form's own step forms and submitted as the public intake submits it."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterator
from typing import Annotated, Any

from flask import abort, g
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, WithJsonSchema
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from crm.api import tokens
from crm.api.blueprint import actor, api, tag
from crm.api.common import Strict, json_response, write_responses
from crm.api.problems import ApiProblem, FieldError
from crm.core import audit
from crm.core.enums import Language
from crm.db import get_session
from crm.documents.services import DocumentRejected
from crm.intake import drafts
from crm.intake.forms import MAX_PEOPLE, StartForm, answers_of, question_name, step_form
from crm.intake.steps import COMPANY_PAPERS, MAX_COMPANY_PAPERS, PITCH_DECK, questions_of
from crm.intake.submission import CONSENT_VERSION, SubmissionRefused, submit
from crm.programmes.models import Programme
from crm.workflow.definitions import IntakeDefinition, ProgrammeDefinition
from crm.workflow.engine import current_version

TAGS = tag("Intake", "Applications from forms outside the desk, submitted as the public "
                     "application form submits them.")

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
#: The steps whose answers the body carries, in the form's order.
QUESTION_STEPS = ("company", "people", "plans")


class CompanyIn(Strict):
    """The company step; which answers are required (and allowed) is the programme's form's
    choice: its dropped questions are refused."""

    name: str | None = None
    website: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code.")
    city: str | None = None
    founded_year: int | None = None
    team_size: int | None = None
    sectors: list[str] = Field(default_factory=list, max_length=50)
    funding_stage: str | None = None
    description: str | None = None


class PersonIn(Strict):
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = Field(default=None, description="International format, e.g. +91 …")
    language: Language | None = None


class PlansIn(Strict):
    timeline: str | None = Field(default=None, description="within_3_months, "
                                 "within_12_months, later or undecided.")
    office_need: str | None = Field(default=None, description="coworking, office or none.")
    hiring_plans: str | None = Field(default=None, description="none, 1_5, 6_20 or more_20.")
    help_needed: list[str] = Field(default_factory=list, max_length=20)
    notes: str | None = None


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


Base64 = Annotated[bytes, BeforeValidator(_decoded),
                   WithJsonSchema({"type": "string", "contentEncoding": "base64"})]


class FileIn(Strict):
    filename: str = Field(min_length=1, max_length=255)
    content_base64: Base64 = Field(description="The file, base64-encoded (the whole body "
                                        "is at most 1 MiB).")


class SubmissionCreate(Strict):
    programme: Key = Field(description="The programme's key.")
    locale: Language = Field(default=Language.EN, description="The applicant's language: "
                             "emails and the `errors` messages use it.")
    email: str | None = Field(default=None, description="The applicant's address: the "
                              "confirmation goes there.")
    company: CompanyIn = Field(default_factory=CompanyIn)
    people: list[PersonIn] = Field(default_factory=list, max_length=MAX_PEOPLE)
    plans: PlansIn = Field(default_factory=PlansIn)
    answers: dict[Key, str] = Field(default_factory=dict, max_length=100, description="The "
                                    "programme's own questions, by key.")
    pitch_deck: FileIn | None = Field(default=None, description="A PDF (required).")
    company_papers: list[FileIn] = Field(default_factory=list, max_length=MAX_COMPANY_PAPERS,
                                         description="PDF, PNG or JPEG files.")
    consent: bool = Field(default=False, description="The applicant agreed to the consent "
                          "text (must be true).")
    consent_text_version: str | None = Field(default=None, max_length=32, description=(
        f"The version of the consent text the applicant saw (now {CONSENT_VERSION})."))


class SubmissionOut(BaseModel):
    application_id: int
    startup_id: int
    enrollment_id: int


# Checking the body with the public form's rules --------------------------------------------


class Checked:
    """The body's answers per step as the step forms stored them, or the errors by body path."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.email: str | None = None

    def refuse(self, field: str, message: object, code: str = "invalid") -> None:
        self.errors.append(FieldError(field=field, message=str(message), code=code))


def _formdata(values: dict[str, Any]) -> MultiDict:
    """Values as a browser would post them to the form: text, a list as repeated fields."""
    data = MultiDict()
    for name, value in values.items():
        if isinstance(value, list):
            data.setlist(name, [str(item) for item in value])
        elif value is not None:
            data[name] = str(value)
    return data


def _step_data(body: SubmissionCreate, step: str) -> dict[str, Any]:
    """The step's part of the body, as fields of its form would be named."""
    if step == "people":
        return {f"people-{index}-{name}": value for index, person in enumerate(body.people)
                for name, value in person.model_dump(exclude_none=True).items()}
    return getattr(body, step).model_dump(exclude_none=True, exclude_defaults=True)


def _path(step: str, name: str, questions: dict[str, str]) -> str:
    """Where a field of the step's form is in the body (the people step's list: body.people)."""
    if name in questions:
        return f"body.answers.{questions[name]}"
    return f"body.{step}" if name == step else f"body.{step}.{name}"


def _check_step(checked: Checked, body: SubmissionCreate, step: str,
                definition: ProgrammeDefinition) -> None:
    intake = definition.intake
    questions = {question_name(question): question.key
                 for question in questions_of(intake, step)}
    values = _step_data(body, step)
    values.update({name: body.answers[key] for name, key in questions.items()
                   if key in body.answers})
    form: FlaskForm = step_form(step, intake, definition.focus_sectors,
                                formdata=_formdata(values), meta={"csrf": False})
    if step != "people":
        for name in values:
            if name not in form:
                checked.refuse(_path(step, name, questions),
                               _("This programme's form does not ask this."), "not_asked")
    if form.validate():
        checked.answers[step] = answers_of(step, form)
        return
    for name, errors in form.errors.items():
        for where, message in _flatten(_path(step, name, questions), errors):
            checked.refuse(where, message)


def _flatten(where: str, errors: Any) -> Iterator[tuple[str, object]]:
    """A form's errors by body path: a list of people holds each person's errors by index,
    then its own (one address each)."""
    if isinstance(errors, dict):
        for name, nested in errors.items():
            yield from _flatten(f"{where}.{name}", nested)
        return
    for index, item in enumerate(errors):
        if isinstance(item, dict):
            yield from _flatten(f"{where}.{index}", item)
        else:
            yield where, item


def _check(body: SubmissionCreate, definition: ProgrammeDefinition) -> Checked:
    checked = Checked()
    start = StartForm(formdata=_formdata({"email": body.email}), meta={"csrf": False})
    if start.validate():
        checked.email = start.address()
    for message in start.email.errors:
        checked.refuse("body.email", message)
    for step in QUESTION_STEPS:
        _check_step(checked, body, step, definition)
    asked = {question.key for question in definition.intake.questions}
    for key in sorted(set(body.answers) - asked):
        checked.refuse(f"body.answers.{key}", _("This programme's form does not ask this."),
                       "not_asked")
    if body.pitch_deck is None:
        checked.refuse("body.pitch_deck", _("Please upload your pitch deck as a PDF."),
                       "missing")
    if not body.consent:
        checked.refuse("body.consent", _("The applicant must agree to how we use their data."),
                       "consent_required")
    if body.consent_text_version != CONSENT_VERSION:
        checked.refuse("body.consent_text_version",
                       _("The consent text is version %(version)s: show that one and ask "
                         "again.", version=CONSENT_VERSION), "consent_version")
    return checked


def _open_programme(body: SubmissionCreate) -> tuple[Programme, ProgrammeDefinition]:
    db = get_session()
    programme = db.scalar(select(Programme).where(Programme.key == body.programme))
    if programme is None:
        raise ApiProblem(422, "There is no programme with this key.", kind="invalid-fields",
                         errors=[FieldError(field="body.programme", message="No such programme.",
                                            code="unknown_programme")])
    intake: IntakeDefinition | None = drafts.intake_of(db, programme)
    reason = drafts.closed_reason(programme, intake)
    if reason:
        raise ApiProblem(409, str(reason), kind="programme-closed")
    return programme, current_version(db, programme).parsed


def _upload(file: FileIn) -> FileStorage:
    return FileStorage(io.BytesIO(file.content_base64), filename=file.filename)


@api.post("/intake-submissions", tags=TAGS, summary="Submit an application",
          description="The whole application in one body, checked by the public form's rules "
                      "for this programme (its own questions in `answers`; `errors` name the "
                      "body path, in the applicant's `locale`), then submitted as the public "
                      "form submits it: the startup found or created, its people recorded as "
                      "contacts with their consent, an owner assigned, the startup enrolled at "
                      "the programme's intake stage, the owner told and the applicant sent a "
                      "confirmation. A programme that takes no applications now is 409 "
                      "`programme-closed`; a refusal of the workflow (e.g. the intake stage's "
                      "gate) is 409 `submission-refused`. For staff who may change startups.",
          responses=write_responses(201, SubmissionOut))
def submit_intake(body: SubmissionCreate):
    if not tokens.may_write(actor()):
        abort(403)
    programme, definition = _open_programme(body)
    with force_locale(body.locale.value):
        checked = _check(body, definition)
        if checked.errors:
            raise ApiProblem(422, "The application has invalid fields.", kind="invalid-fields",
                             errors=checked.errors)
        db = get_session()
        application = drafts.start_application(db, programme, email=checked.email,
                                               locale=body.locale, send_link=False)
        for step in QUESTION_STEPS:
            drafts.save_step(db, application, step, checked.answers[step], locale=body.locale)
        uploads = [(PITCH_DECK, "body.pitch_deck", body.pitch_deck)] + [
            (COMPANY_PAPERS, f"body.company_papers.{index}", paper)
            for index, paper in enumerate(body.company_papers)]
        for kind, where, file in uploads:
            try:
                drafts.add_document(db, application, kind, _upload(file))
            except DocumentRejected as rejected:
                raise ApiProblem(422, "A file is refused.", kind="invalid-fields",
                                 errors=[FieldError(field=where, message=str(rejected.message),
                                                    code="file_refused")]) from None
        drafts.save_step(db, application, "documents", {}, locale=body.locale)
        try:
            submit(db, application, programme)
        except SubmissionRefused as refused:
            raise ApiProblem(409, str(refused.message), kind="submission-refused") from None
    audit.record(db, "application.received", actor_user_id=actor().id,
                 object_type="application", object_id=application.id,
                 api_token_id=g.api_token.id, startup_id=application.startup_id)
    return json_response(SubmissionOut(application_id=application.id,
                                       startup_id=application.startup_id,
                                       enrollment_id=application.enrollment_id), 201)
