"""An application's stored answers as labelled, readable rows per step (staff and review page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms.fields.core import UnboundField

from crm.core.enums import FUNDING_STAGE_LABELS, LANGUAGE_LABELS
from crm.core.i18n import country_name
from crm.intake.forms import CompanyForm, PersonForm, PlansForm, question_name
from crm.intake.models import Application
from crm.intake.steps import (
    HELP_CHOICES,
    HIRING_CHOICES,
    OFFICE_CHOICES,
    STEPS,
    TIMELINE_CHOICES,
    questions_of,
)
from crm.workflow.definitions import (
    INTAKE_QUESTION_STEPS,
    ProgrammeDefinition,
    QuestionDefinition,
    QuestionKind,
)

NOTHING = "—"
YES_NO = {"yes": _l("Yes"), "no": _l("No")}
#: Stored codes shown by their label, per built-in question.
CHOICE_LABELS = {
    "timeline": dict(TIMELINE_CHOICES), "office_need": dict(OFFICE_CHOICES),
    "hiring_plans": dict(HIRING_CHOICES), "help_needed": dict(HELP_CHOICES),
    "funding_stage": FUNDING_STAGE_LABELS, "language": LANGUAGE_LABELS,
}
PERSON_DETAILS = ("role", "email", "phone", "language")  # the name is the block's title


def _labels(form: type) -> dict[str, object]:
    """The form's field labels by field name, in the order the form declares them."""
    fields = sorted(((name, value) for name in dir(form)
                     if isinstance(value := getattr(form, name), UnboundField)),
                    key=lambda item: item[1].creation_counter)
    return {name: unbound.kwargs.get("label") or unbound.args[0] for name, unbound in fields}


#: The labels of the built-in questions, per step (the people step's are a person's).
LABELS = {"company": _labels(CompanyForm), "people": _labels(PersonForm),
          "plans": _labels(PlansForm)}


@dataclass(frozen=True)
class Section:
    """A step's answers; on the people step, one sub-block per person."""

    key: str
    title: object
    rows: list[tuple[object, str]]
    blocks: list[Section] = field(default_factory=list)


def answer_sections(application: Application, definition: ProgrammeDefinition | None,
                    locale: str) -> list[Section]:
    """The saved steps' answers in the form's order, each with the label the applicant saw."""
    intake = definition.intake if definition else None
    sections = []
    for step in STEPS:
        answers = application.answers.get(step.key)
        if step.key not in INTAKE_QUESTION_STEPS or answers is None:
            continue
        questions = {question_name(question): question
                     for question in (questions_of(intake, step.key) if intake else [])}
        if step.key == "people":
            rest = {name: value for name, value in answers.items() if name != "people"}
            sections.append(Section(step.key, step.title, _rows(rest, {}, questions, locale),
                                    [_person(person) for person in answers.get("people", [])]))
        else:
            sections.append(Section(step.key, step.title,
                                    _rows(answers, LABELS[step.key], questions, locale)))
    return sections


def _rows(answers: dict[str, Any], labels: dict[str, object],
          questions: dict[str, QuestionDefinition], locale: str) -> list[tuple[object, str]]:
    """Built-in questions first, then the programme's; an answer to a question the programme
    no longer asks keeps its key as label."""
    rows = [(label, _shown(name, answers[name])) for name, label in labels.items()
            if name in answers]
    rows += [(question.label(locale), _answer_to(question, answers[name], locale))
             for name, question in questions.items() if name in answers]
    rows += [(name, _shown(name, value)) for name, value in answers.items()
             if name not in labels and name not in questions]
    return rows


def _shown(name: str, value: Any) -> str:
    if value in (None, "", []):
        return NOTHING
    if name == "country":
        return country_name(value)
    labels = CHOICE_LABELS.get(name, {})
    if isinstance(value, list):
        return ", ".join(str(labels.get(item, item)) for item in value)
    return str(labels.get(value, value))


def _answer_to(question: QuestionDefinition, value: Any, locale: str) -> str:
    if value in (None, ""):
        return NOTHING
    if question.kind == QuestionKind.YES_NO:
        return str(YES_NO.get(value, value))
    if question.kind == QuestionKind.CHOICE:
        return next((choice.label(locale) for choice in question.choices
                     if choice.value == value), str(value))
    return str(value)


def _person(person: dict[str, Any]) -> Section:
    return Section("person", person.get("name") or NOTHING,
                   [(LABELS["people"][name], _shown(name, person.get(name)))
                    for name in PERSON_DETAILS])
