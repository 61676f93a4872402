"""The steps of the application form and the fixed choices its questions offer."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from crm.workflow.definitions import IntakeDefinition, QuestionDefinition


@dataclass(frozen=True)
class Step:
    key: str
    title: object  # lazy string


STEPS = (
    Step("company", _l("Company")),
    Step("people", _l("People")),
    Step("plans", _l("Plans in Germany")),
    Step("documents", _l("Documents")),
    Step("consent", _l("Review and submit")),
)
STEP_KEYS = tuple(step.key for step in STEPS)
#: The steps whose answers must be saved before the application can be submitted.
REQUIRED_STEPS = STEP_KEYS[:-1]

#: Sectors offered besides a programme's focus sectors (stored in English, as staff enter them).
GENERAL_SECTORS = (
    "Artificial Intelligence", "Software / SaaS", "Fintech", "E-commerce", "Mobility",
    "Logistics", "Energy", "Industry 4.0", "Digital Health", "MedTech", "Life Sciences",
    "Green Tech", "Sustainability", "5G", "Education", "Media",
)

TIMELINE_CHOICES = (
    ("within_3_months", _l("Within 3 months")),
    ("within_12_months", _l("Within 12 months")),
    ("later", _l("Later than 12 months")),
    ("undecided", _l("Not decided yet")),
)
OFFICE_CHOICES = (
    ("coworking", _l("A desk in a coworking space")),
    ("office", _l("An office of our own")),
    ("none", _l("No space needed yet")),
)
HIRING_CHOICES = (
    ("none", _l("No hiring planned yet")),
    ("1_5", _l("1 to 5 people")),
    ("6_20", _l("6 to 20 people")),
    ("more_20", _l("More than 20 people")),
)
HELP_CHOICES = (
    ("visa", _l("Visa or residence permit")),
    ("company_registration", _l("Company registration")),
    ("bank_account", _l("Business bank account")),
    ("office_space", _l("Office space")),
    ("talent", _l("Finding talent")),
    ("introductions", _l("Introductions to customers and partners")),
)

#: Document kinds an applicant uploads: the pitch deck (one PDF) and company papers (several).
PITCH_DECK = "pitch_deck"
COMPANY_PAPERS = "company_papers"
MAX_COMPANY_PAPERS = 5


def step_index(key: str) -> int:
    return STEP_KEYS.index(key)


def questions_of(intake: IntakeDefinition, step: str) -> list[QuestionDefinition]:
    """The programme's own questions asked on this step."""
    return [question for question in intake.questions if question.step == step]


def sector_choices(focus_sectors: list[str]) -> list[tuple[str, str]]:
    """The programme's focus sectors first, then the general ones, each once."""
    return [(sector, sector) for sector in dict.fromkeys([*focus_sectors, *GENERAL_SECTORS])]
