"""Programme definitions: the YAML schema, its validation and clear errors naming the path."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crm.config import PROJECT_ROOT
from crm.core.enums import EnrollmentStatus

EMAIL_TEMPLATES = PROJECT_ROOT / "templates" / "emails" / "workflow"
EMAIL_TEMPLATE_SUFFIXES = (".subject.txt", ".txt", ".html")
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class DefinitionError(ValueError):
    """A definition that cannot be used; `problems` are (where, what) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("; ".join(f"{source}: {where}: {what}" for where, what in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Strict):
    en: Text
    de: Text

    def __call__(self, locale: str) -> str:
        return self.de if locale == "de" else self.en


class ItemOwner(StrEnum):
    STARTUP = "startup"
    DESK = "desk"
    PROVIDER = "provider"


class ChecklistItemDefinition(_Strict):
    key: Key
    label: Bilingual
    owner: ItemOwner
    depends_on: list[Key] = []
    due_in_working_days: int | None = Field(default=None, ge=0, le=365)
    expires: bool = False  # the item carries an expiry date (permits, visas)


class ChoiceDefinition(_Strict):
    value: Key
    label: Bilingual


class FieldDefinition(_Strict):
    """An answer the desk records per enrollment (e.g. which side referred the startup)."""

    key: Key
    label: Bilingual
    choices: list[ChoiceDefinition] = []


STARTUP_GATE_FIELDS = ("website", "city", "founded_year", "team_size", "funding_stage",
                       "description", "owner_id")


class Gate(_Strict):
    checklist: list[Key] = []
    startup_fields: list[Literal[STARTUP_GATE_FIELDS]] = []  # type: ignore[valid-type]
    enrollment_fields: list[Key] = []
    contact_with_email: bool = False


class TaskAction(_Strict):
    title: Bilingual
    due_in_working_days: int = Field(default=2, ge=0, le=365)


class EmailAction(_Strict):
    """An email to the startup's contacts, in each contact's language."""

    template: Key


class OnEnter(_Strict):
    task: TaskAction | None = None
    email_startup: EmailAction | None = None
    notify_owner: bool = False
    # The checklist's due dates count from entering this stage (default: from enrollment).
    start_checklist: bool = False


class Reminders(_Strict):
    due_soon_working_days: int = Field(default=2, ge=0, le=60)
    escalate_after_working_days: int = Field(default=3, ge=0, le=60)


class StageDefinition(_Strict):
    key: Key
    label: Bilingual
    sla_working_days: int | None = Field(default=None, ge=1, le=365)
    # The enrollment status a stage ends the enrollment with; None for an active stage.
    closes_as: Literal["landed", "withdrawn", "rejected"] | None = None
    gate: Gate = Gate()
    on_enter: OnEnter = OnEnter()
    reminders: Reminders | None = None

    @property
    def terminal(self) -> str | None:
        """'won' or 'lost' for closing stages."""
        if self.closes_as is None:
            return None
        return "won" if self.closes_as == EnrollmentStatus.LANDED else "lost"


class TransitionDefinition(_Strict):
    from_stage: Key = Field(alias="from")
    to_stage: Key = Field(alias="to")


#: Built-in intake questions a programme may leave out (the rest are always asked).
OPTIONAL_INTAKE_QUESTIONS = ("city", "founded_year", "team_size", "funding_stage", "timeline",
                             "office_need", "hiring_plans", "help_needed", "company_papers")
INTAKE_QUESTION_STEPS = ("company", "people", "plans")


class QuestionKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"
    YES_NO = "yes_no"


class QuestionDefinition(_Strict):
    """A programme's own question on the public application form."""

    key: Key
    step: Literal[INTAKE_QUESTION_STEPS] = "plans"  # type: ignore[valid-type]
    label: Bilingual
    hint: Bilingual | None = None
    kind: QuestionKind = QuestionKind.TEXT
    choices: list[ChoiceDefinition] = []
    required: bool = False


class OwnerRule(_Strict):
    """Who owns a new applicant: the country's desk (staff e-mails), else round robin."""

    country_desks: dict[Annotated[str, Field(pattern=r"^[A-Z]{2}$")],
                        list[Annotated[str, Field(min_length=3, max_length=254)]]] = {}
    round_robin_bd_managers: bool = True


class IntakeDefinition(_Strict):
    """The public application form of a programme (absent: the programme takes none)."""

    open: bool = True
    closes_on: date | None = None  # the last day applications are accepted (Europe/Berlin)
    drop: list[Literal[OPTIONAL_INTAKE_QUESTIONS]] = []  # type: ignore[valid-type]
    questions: list[QuestionDefinition] = []
    owner: OwnerRule = OwnerRule()

    def asks(self, question: str) -> bool:
        return question not in self.drop


class ProgrammeDefinition(_Strict):
    key: Key
    name: Bilingual
    description: Bilingual
    focus_sectors: list[Text] = []
    focus_countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = []
    stages: list[StageDefinition] = Field(min_length=2)
    intake_stage: Key | None = None
    transitions: list[TransitionDefinition] = []
    checklist: list[ChecklistItemDefinition] = []
    fields: list[FieldDefinition] = []
    reminders: Reminders = Reminders()
    intake: IntakeDefinition | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> ProgrammeDefinition:
        problems = list(_reference_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Lookups ---------------------------------------------------------------------------

    def stage(self, key: str) -> StageDefinition:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    def stage_keys(self) -> list[str]:
        return [stage.key for stage in self.stages]

    def active_stages(self) -> list[StageDefinition]:
        return [stage for stage in self.stages if stage.closes_as is None]

    def first_stage(self) -> StageDefinition:
        return self.active_stages()[0]

    def closing_stage(self, status: str) -> StageDefinition | None:
        return next((stage for stage in self.stages if stage.closes_as == status), None)

    def checklist_item(self, key: str) -> ChecklistItemDefinition:
        return next(item for item in self.checklist if item.key == key)

    def with_dependencies(self, keys: list[str]) -> set[str]:
        """These checklist items and everything they depend on, directly or not."""
        closure: set[str] = set()
        pending = list(keys)
        while pending:
            key = pending.pop()
            if key not in closure:
                closure.add(key)
                pending += self.checklist_item(key).depends_on
        return closure

    def field(self, key: str) -> FieldDefinition:
        return next(field for field in self.fields if field.key == key)

    def reminders_for(self, stage_key: str) -> Reminders:
        return self.stage(stage_key).reminders or self.reminders

    def allowed_targets(self, from_stage: str) -> list[str]:
        """Forward one step, back one step, any closing stage, and the declared extras."""
        active = [stage.key for stage in self.active_stages()]
        targets: list[str] = []
        if from_stage in active:
            position = active.index(from_stage)
            if position + 1 < len(active):
                targets.append(active[position + 1])
            if position > 0:
                targets.append(active[position - 1])
            targets += [stage.key for stage in self.stages if stage.closes_as]
        targets += [t.to_stage for t in self.transitions if t.from_stage == from_stage]
        return list(dict.fromkeys(target for target in targets if target != from_stage))

    def checksum(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _reference_problems(definition: ProgrammeDefinition):
    stage_keys = [stage.key for stage in definition.stages]
    item_keys = [item.key for item in definition.checklist]
    field_keys = [field.key for field in definition.fields]
    for name, keys in (("stage", stage_keys), ("checklist item", item_keys),
                       ("field", field_keys)):
        for key in {key for key in keys if keys.count(key) > 1}:
            yield f"{name} key {key!r} is used twice"
    if not any(stage.closes_as is None for stage in definition.stages):
        yield "at least one stage must be active (without closes_as)"
    if definition.intake_stage and definition.intake_stage not in stage_keys:
        yield f"intake_stage {definition.intake_stage!r} is not a stage"
    elif definition.intake_stage and definition.stage(definition.intake_stage).closes_as:
        yield f"intake_stage {definition.intake_stage!r} is a closing stage"
    if definition.intake is not None:
        yield from _intake_problems(definition.intake)
    for index, transition in enumerate(definition.transitions):
        for end in (transition.from_stage, transition.to_stage):
            if end not in stage_keys:
                yield f"transitions.{index}: {end!r} is not a stage"
    for item in definition.checklist:
        for dependency in item.depends_on:
            if dependency not in item_keys:
                yield f"checklist item {item.key!r} depends on unknown item {dependency!r}"
    if _has_cycle({item.key: item.depends_on for item in definition.checklist}):
        yield "checklist dependencies form a cycle"
    for stage in definition.stages:
        for key in stage.gate.checklist:
            if key not in item_keys:
                yield f"stage {stage.key!r}: gate names unknown checklist item {key!r}"
        for key in stage.gate.enrollment_fields:
            if key not in field_keys:
                yield f"stage {stage.key!r}: gate names unknown field {key!r}"
        email = stage.on_enter.email_startup
        if email and not all((EMAIL_TEMPLATES / f"{email.template}{suffix}").is_file()
                             for suffix in EMAIL_TEMPLATE_SUFFIXES):
            yield f"stage {stage.key!r}: no email template {email.template!r}"


def _intake_problems(intake: IntakeDefinition):
    question_keys = [question.key for question in intake.questions]
    for key in {key for key in question_keys if question_keys.count(key) > 1}:
        yield f"intake question key {key!r} is used twice"
    for index, question in enumerate(intake.questions):
        if question.kind == QuestionKind.CHOICE and not question.choices:
            yield f"intake.questions.{index}: a choice question needs choices"
        if question.kind != QuestionKind.CHOICE and question.choices:
            yield f"intake.questions.{index}: only a choice question has choices"


def _has_cycle(graph: dict[str, list[str]]) -> bool:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(child) for child in graph.get(node, []))
        visiting.discard(node)
        done.add(node)
        return cyclic

    return any(visit(node) for node in graph)


def parse_definition(text: str, source: str = "<definition>") -> ProgrammeDefinition:
    """Parse and validate YAML; raise DefinitionError naming the line or path of each problem."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise DefinitionError(source, [(where, str(error.problem or error))]) from None
    except yaml.YAMLError as error:
        raise DefinitionError(source, [("YAML", str(error))]) from None
    if not isinstance(data, dict):
        raise DefinitionError(source, [("top level", "expected a mapping of settings")])
    return validate_definition(data, source)


def validate_definition(data: dict, source: str = "<definition>") -> ProgrammeDefinition:
    try:
        return ProgrammeDefinition.model_validate(data)
    except ValidationError as error:
        problems = [(".".join(str(part) for part in item["loc"]) or "top level", item["msg"])
                    for item in error.errors()]
        raise DefinitionError(source, problems) from None
