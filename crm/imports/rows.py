"""One row of an import file checked and turned into a startup's values, or the reasons it cannot.

Problems are stored as codes with the offending value (`{"field", "code", "value"}`), so the
report is shown in the reader's language, not the language of whoever ran the import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from babel import Locale
from flask_babel import lazy_gettext as _l

from crm.core.enums import FundingStage
from crm.duplicates.matching import matchable_domain, normalise_domain, normalise_email
from crm.imports.fields import FIELD_LABELS
from crm.startups.profile import LABEL_MAX, LABELS_PER_STARTUP, split_labels, website_url
from crm.startups.profile_forms import (
    DESCRIPTION_MAX,
    EARLIEST_FOUNDED,
    NOT_COUNTRIES,
    e164,
    normalised_email,
)
from crm.startups.search import folded_variants, name_key

#: Longest text each text field takes (the columns' sizes).
MAX_LENGTHS = {"name": 200, "website": 500, "city": 120, "description": DESCRIPTION_MAX,
               "source_detail": 200, "contact_name": 200, "contact_role": 120,
               "owner_email": 254, "contact_email": 254}
MAX_TEAM_SIZE = 1_000_000
_MAX_SHOWN_VALUE = 80

PROBLEM_TEXTS = {
    "name_missing": _l("The name is missing."),
    "country_missing": _l("The country is missing."),
    "country_unknown": _l("“%(value)s” is not a country we know."),
    "too_long": _l("%(field)s is longer than %(max)s characters."),
    "website_invalid": _l("“%(value)s” is not a web address."),
    "year_invalid": _l("“%(value)s” is neither a year nor a date."),
    "year_out_of_range": _l("%(value)s is not a possible founding year."),
    "team_size_invalid": _l("“%(value)s” is not a number of people."),
    "funding_stage_unknown": _l("“%(value)s” is not a funding stage we know."),
    "email_invalid": _l("“%(value)s” is not a valid e-mail address."),
    "phone_invalid": _l("“%(value)s” is not a phone number."),
    "labels_too_long": _l("%(field)s: each entry may have at most %(max)s characters."),
    "labels_too_many": _l("%(field)s: at most %(max)s entries."),
    "owner_unknown": _l("“%(value)s” is not an active staff member who may own startups."),
    "owner_not_allowed": _l("You may only make yourself the owner."),
    "duplicate_row": _l("Same startup as row %(value)s."),
    "ambiguous_match": _l("Matches several existing startups (%(value)s): merge them first."),
    "not_allowed": _l("Matches “%(value)s”, which you may not change."),
    "changed_meanwhile": _l("“%(value)s” was changed by someone else during the import."),
}

# Countries people write in lists that Babel names differently (folded, letters only).
_COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "america": "US",
    "uk": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northernireland": "GB", "grossbritannien": "GB",
    "korea": "KR", "republicofkorea": "KR", "korearepublicof": "KR", "southkorea": "KR",
    "koreasouth": "KR", "skorea": "KR", "rok": "KR", "republikkorea": "KR",
    "holland": "NL", "thenetherlands": "NL", "czechrepublic": "CZ", "tschechischerepublik": "CZ",
    "turkey": "TR", "turkiye": "TR", "hongkong": "HK", "macau": "MO", "macao": "MO",
    "uae": "AE", "vae": "AE", "ivorycoast": "CI", "russianfederation": "RU", "vietnam": "VN",
    "prc": "CN", "peoplesrepublicofchina": "CN", "mainlandchina": "CN", "deu": "DE",
    "ger": "DE", "brd": "DE", "ind": "IN", "kor": "KR", "jpn": "JP", "chn": "CN", "gbr": "GB",
    "fra": "FR", "ita": "IT", "esp": "ES", "nld": "NL", "che": "CH", "aut": "AT", "isr": "IL",
    "sgp": "SG", "twn": "TW", "can": "CA", "aus": "AU", "bra": "BR", "swe": "SE",
}
_LETTERS = re.compile(r"[^a-z]+")
_YEAR = re.compile(r"\d{4}")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+)?")
_DOTTED_DATE = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4})")
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?:[.,' ]\d{3})+")
#: Funding stages as lists write them (folded to letters and digits), English and German.
_FUNDING_NAMES = {
    "bootstrapped": FundingStage.BOOTSTRAPPED, "bootstrap": FundingStage.BOOTSTRAPPED,
    "selffunded": FundingStage.BOOTSTRAPPED, "eigenfinanziert": FundingStage.BOOTSTRAPPED,
    "preseed": FundingStage.PRE_SEED, "seed": FundingStage.SEED,
    "seriesa": FundingStage.SERIES_A, "seriea": FundingStage.SERIES_A,
    "seriesb": FundingStage.SERIES_B_PLUS, "seriesc": FundingStage.SERIES_B_PLUS,
    "seriesd": FundingStage.SERIES_B_PLUS, "seriesbplus": FundingStage.SERIES_B_PLUS,
    "seriesborlater": FundingStage.SERIES_B_PLUS, "serieb": FundingStage.SERIES_B_PLUS,
    "seriec": FundingStage.SERIES_B_PLUS, "seriesboderspaeter": FundingStage.SERIES_B_PLUS,
    "serieboderspaeter": FundingStage.SERIES_B_PLUS, "growth": FundingStage.SERIES_B_PLUS,
    "latestage": FundingStage.SERIES_B_PLUS, "profitable": FundingStage.PROFITABLE,
    "profitabel": FundingStage.PROFITABLE,
}


@dataclass
class ImportRow:
    """A row's values as they would be stored, and what is wrong with it."""

    row: int
    name: str = ""
    country: str | None = None
    website: str | None = None
    domain: str | None = None
    city: str | None = None
    founded_year: int | None = None
    team_size: int | None = None
    funding_stage: str | None = None
    description: str = ""
    sectors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source_detail: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contact_role: str | None = None
    owner_id: int | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, code: str, field_name: str | None = None, value: Any = None) -> None:
        entry: dict[str, Any] = {"code": code}
        if field_name:
            entry["field"] = field_name
        if value is not None:
            text = str(value)
            if len(text) > _MAX_SHOWN_VALUE:
                text = text[:_MAX_SHOWN_VALUE] + "…"
            entry["value"] = text
        self.problems.append(entry)

    @property
    def matchable_domain(self) -> str | None:
        return matchable_domain(self.domain)

    @property
    def match_email(self) -> str | None:
        return normalise_email(self.contact_email)

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    @property
    def has_contact(self) -> bool:
        return bool(self.contact_name or self.contact_email or self.contact_phone)


@dataclass(frozen=True)
class RowContext:
    """What every row is checked against: defaults of the mapping, the staff, the actor."""

    default_country: str | None
    default_source_detail: str | None
    owners: dict[str, int]  # lower-cased e-mail -> id of an active editor
    actor_id: int
    actor_may_assign_anyone: bool
    this_year: int


def problem_text(problem: dict[str, Any]) -> str:
    """A stored problem in the reader's language."""
    template = PROBLEM_TEXTS.get(problem.get("code"), problem.get("code", ""))
    label = FIELD_LABELS.get(problem.get("field") or "", problem.get("field") or "")
    try:
        return str(template) % {"value": problem.get("value", ""), "field": label,
                                "max": problem.get("max", "")}
    except (TypeError, ValueError, KeyError):
        return str(template)


def parse_row(number: int, values: dict[str, str], context: RowContext) -> ImportRow:
    """The row's values checked one by one; every problem is collected, not only the first."""
    row = ImportRow(row=number)
    row.name = _text(row, "name", values.get("name")) or ""
    if not row.name:
        row.problem("name_missing", "name")
    _parse_country(row, values.get("country"), context.default_country)
    _parse_website(row, values.get("website"))
    row.city = _text(row, "city", values.get("city"))
    row.founded_year = _parse_year(row, values.get("founded_year"), context.this_year)
    row.team_size = _parse_team_size(row, values.get("team_size"))
    row.funding_stage = _parse_funding_stage(row, values.get("funding_stage"))
    row.description = _text(row, "description", values.get("description"), keep_lines=True) or ""
    row.sectors = _parse_labels(row, "sectors", values.get("sectors"))
    row.tags = sorted({tag.lower() for tag in _parse_labels(row, "tags", values.get("tags"))})
    row.source_detail = (_text(row, "source_detail", values.get("source_detail"))
                         or context.default_source_detail)
    row.contact_name = _text(row, "contact_name", values.get("contact_name"))
    row.contact_email = _parse_email(row, values.get("contact_email"))
    row.contact_phone = _parse_phone(row, values.get("contact_phone"), row.country)
    row.contact_role = _text(row, "contact_role", values.get("contact_role"))
    if row.has_contact and not row.contact_name:
        row.contact_name = (row.contact_email or row.contact_phone or "")[:200]
    row.owner_id = _parse_owner(row, values.get("owner_email"), context)
    return row


def _text(row: ImportRow, name: str, value: str | None, *, keep_lines: bool = False) -> str | None:
    if keep_lines:
        text = "\n".join(" ".join(line.split()) for line in (value or "").strip().splitlines())
    else:
        text = " ".join((value or "").split())
    if len(text) > MAX_LENGTHS[name]:
        row.problems.append({"code": "too_long", "field": name, "max": MAX_LENGTHS[name]})
        return None
    return text or None


# Countries ------------------------------------------------------------------------------------


@cache
def _country_names() -> dict[str, str]:
    """Folded country names in English and German, ISO codes and common aliases -> ISO code."""
    names: dict[str, str] = {}
    for locale in ("en", "de"):
        for code, name in Locale.parse(locale).territories.items():
            if len(code) != 2 or not code.isalpha() or code in NOT_COUNTRIES:
                continue
            names[code.lower()] = code
            for variant in folded_variants(name):
                names.setdefault(_LETTERS.sub("", variant), code)
    names.update(_COUNTRY_ALIASES)
    return names


def country_code(value: str | None) -> str | None:
    """The ISO 3166 code for a code, an English or German name ("Südkorea"), or an alias."""
    names = _country_names()
    for variant in folded_variants(value):
        code = names.get(_LETTERS.sub("", variant))
        if code:
            return code
    return None


def _parse_country(row: ImportRow, value: str | None, default: str | None) -> None:
    text = " ".join((value or "").split())
    if not text:
        row.country = default
        if not default:
            row.problem("country_missing", "country")
        return
    row.country = country_code(text)
    if row.country is None:
        row.problem("country_unknown", "country", text)


# Other fields ---------------------------------------------------------------------------------


def _parse_website(row: ImportRow, value: str | None) -> None:
    text = (value or "").strip()
    if not text:
        return
    if len(text) > MAX_LENGTHS["website"]:
        row.problems.append({"code": "too_long", "field": "website", "max": MAX_LENGTHS["website"]})
        return
    domain = normalise_domain(text) if "@" not in text and " " not in text else None
    try:
        url = website_url(text) if domain else None
    except ValueError:
        url = None
    if not domain or not url:
        row.problem("website_invalid", "website", text)
        return
    row.website, row.domain = url, domain


def _parse_year(row: ImportRow, value: str | None, this_year: int) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    year = _year_of(text)
    if year is None:
        row.problem("year_invalid", "founded_year", text)
        return None
    if not EARLIEST_FOUNDED <= year <= this_year:
        row.problem("year_out_of_range", "founded_year", year)
        return None
    return year


def _year_of(text: str) -> int | None:
    """The year of "2019", "2019.0", "2019-05-01", "01.05.2019" or "5/1/2019"; None if not one."""
    if text.endswith(".0"):
        text = text[:-2]
    if _YEAR.fullmatch(text):
        return int(text)
    iso = _ISO_DATE.fullmatch(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return year if _is_date(year, month, day) else None
    dotted = _DOTTED_DATE.fullmatch(text)
    if dotted:
        first, second, year = (int(part) for part in dotted.groups())
        # Day first (German, British) or month first (American): the year is the same.
        if _is_date(year, second, first) or _is_date(year, first, second):
            return year
    return None


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _parse_team_size(row: ImportRow, value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    digits = text[:-2] if text.endswith(".0") else text
    if _GROUPED_NUMBER.fullmatch(digits):
        digits = re.sub(r"\D", "", digits)
    if not digits.isdigit() or not 0 < int(digits) <= MAX_TEAM_SIZE:
        row.problem("team_size_invalid", "team_size", text)
        return None
    return int(digits)


def _parse_funding_stage(row: ImportRow, value: str | None) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        return None
    for variant in folded_variants(text):
        stage = _FUNDING_NAMES.get(re.sub(r"[^a-z0-9]", "", variant))
        if stage:
            return stage.value
    row.problem("funding_stage_unknown", "funding_stage", text)
    return None


def _parse_labels(row: ImportRow, name: str, value: str | None) -> list[str]:
    labels = split_labels((value or "").replace(";", ",").replace("|", ","))
    if any(len(label) > LABEL_MAX for label in labels):
        row.problems.append({"code": "labels_too_long", "field": name, "max": LABEL_MAX})
        return []
    if len(labels) > LABELS_PER_STARTUP:
        row.problems.append({"code": "labels_too_many", "field": name, "max": LABELS_PER_STARTUP})
        return []
    return labels


def _parse_email(row: ImportRow, value: str | None) -> str | None:
    text = (value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    if not text:
        return None
    try:
        address = normalised_email(text)
    except ValueError:
        row.problem("email_invalid", "contact_email", text)
        return None
    if address and len(address) > MAX_LENGTHS["contact_email"]:
        row.problem("email_invalid", "contact_email", text)
        return None
    return address.lower() if address else None


def _parse_phone(row: ImportRow, value: str | None, country: str | None) -> str | None:
    try:
        return e164(value, region=country)
    except ValueError:
        row.problem("phone_invalid", "contact_phone", value.strip())
        return None


def _parse_owner(row: ImportRow, value: str | None, context: RowContext) -> int | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    owner_id = context.owners.get(text)
    if owner_id is None:
        row.problem("owner_unknown", "owner_email", value.strip())
        return None
    if owner_id != context.actor_id and not context.actor_may_assign_anyone:
        row.problem("owner_not_allowed", "owner_email")
        return None
    return owner_id
