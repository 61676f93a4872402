"""The filters of the startups list and the pipeline board, read from and written to the URL.

A view is its query string, so it can be bookmarked, shared and saved by name. Unknown or
malformed values are dropped, never an error: a shared link from an older version still opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import ColumnElement, and_, exists, or_, select

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, LeadSource, StartupStatus, parse_enum
from crm.programmes.models import Programme
from crm.startups.models import Startup, StartupSector, StartupTag
from crm.startups.search import folded_variants
from crm.workflow.models import Enrollment

SEARCH_MAX = 200
OWNER_ME = "me"
OWNER_NONE = "none"
_OWNER_ALIASES = {"unassigned": OWNER_NONE}


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class StartupFilters:
    search: str = ""
    programme: str = ""  # programme key
    stage: str = ""  # stage key within the programme
    country: str = ""  # ISO 3166-1 alpha-2
    sector: str = ""
    owner: str = ""  # a user id, OWNER_ME or OWNER_NONE
    status: StartupStatus | None = None
    tag: str = ""
    source: LeadSource | None = None
    event: str = ""  # the source detail: a trade fair, a delegation
    overdue: bool = False  # an open enrollment past its stage's due date

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> StartupFilters:
        def text(name: str, limit: int = 64) -> str:
            return (args.get(name) or "").strip()[:limit]

        owner = text("owner")
        owner = _OWNER_ALIASES.get(owner, owner)
        if owner not in (OWNER_ME, OWNER_NONE) and not owner.isdigit():
            owner = ""
        country = text("country", 3).upper()  # "Germany" is no code, not "GE"
        return cls(
            search=text("q", SEARCH_MAX),
            programme=text("programme"),
            stage=text("stage") if text("programme") else "",
            country=country if len(country) == 2 and country.isalpha() else "",
            sector=text("sector"),
            owner=owner,
            status=parse_enum(StartupStatus, args.get("status")),
            tag=text("tag"),
            source=parse_enum(LeadSource, args.get("source")),
            event=text("event", 200),
            overdue=args.get("overdue") in ("1", "on", "true"),
        )

    @classmethod
    def from_query(cls, query: str) -> StartupFilters:
        """The filters of a stored query string (a saved view, an export job)."""
        return cls.from_args(dict(parse_qsl(query or "")))

    def to_args(self) -> dict[str, str]:
        """The non-empty filters as query arguments (the inverse of `from_args`)."""
        args: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value:
                name = "q" if item.name == "search" else item.name
                args[name] = "1" if value is True else str(value)
        return args

    def without(self, *names: str) -> StartupFilters:
        """The same filters with some cleared (e.g. the board drops programme and stage)."""
        return replace(self, **{name: StartupFilters.__dataclass_fields__[name].default
                                for name in names})

    @property
    def active(self) -> bool:
        return bool(self.to_args())

    def owner_id(self, current_user_id: int | None) -> int | None:
        if self.owner == OWNER_ME:
            return current_user_id
        return int(self.owner) if self.owner.isdigit() else None

    def country_and_owner(self, country, owner_id,
                          current_user_id: int | None) -> list[ColumnElement[Any]]:
        """The country and owner filters on these columns: the startup's, or the copies an
        enrollment carries of them."""
        conditions: list[ColumnElement[Any]] = []
        if self.country:
            conditions.append(country == self.country)
        if self.owner == OWNER_NONE:
            conditions.append(owner_id.is_(None))
        elif self.owner:
            conditions.append(owner_id == self.owner_id(current_user_id))
        return conditions

    def startup_conditions(self, current_user_id: int | None) -> list[ColumnElement[Any]]:
        """Conditions on the startup itself (usable wherever `Startup` is in the query)."""
        conditions: list[ColumnElement[Any]] = []
        if self.search:
            # The folded variants find accents and romanisations either way (a trigram index
            # serves them on PostgreSQL). A term folding leaves nothing of, such as "%" or "_",
            # is looked for literally in name and domain.
            variants = folded_variants(self.search)
            if variants:
                conditions.append(or_(*(
                    Startup.search_text.like(f"%{escape_like(variant)}%", escape="\\")
                    for variant in variants)))
            else:
                literal = f"%{escape_like(self.search)}%"
                conditions.append(or_(Startup.name.ilike(literal, escape="\\"),
                                      Startup.domain.ilike(literal, escape="\\")))
        conditions += self.country_and_owner(Startup.country, Startup.owner_id, current_user_id)
        if self.status is not None:
            conditions.append(Startup.status == self.status)
        if self.source is not None:
            conditions.append(Startup.source == self.source)
        if self.event:
            conditions.append(Startup.source_detail == self.event)
        if self.sector:
            conditions.append(exists().where(StartupSector.startup_id == Startup.id,
                                             StartupSector.sector == self.sector))
        if self.tag:
            conditions.append(exists().where(StartupTag.startup_id == Startup.id,
                                             StartupTag.tag == self.tag))
        return conditions

    def enrollment_conditions(self) -> list[ColumnElement[Any]]:
        """Conditions on an enrollment (programme, stage, overdue); empty when none is set."""
        conditions: list[ColumnElement[Any]] = []
        if self.programme:
            conditions.append(Enrollment.programme_id == select(Programme.id).where(
                Programme.key == self.programme).scalar_subquery())
            if self.stage:
                conditions.append(Enrollment.stage == self.stage)
        if self.overdue:
            conditions.extend((Enrollment.status == EnrollmentStatus.OPEN,
                               Enrollment.due_at <= utcnow()))
        return conditions

    @property
    def narrows_by_enrollment(self) -> bool:
        """A programme and a country: few of the country's startups are in that programme (and
        stage), so reading those enrollments first is the short way (`conditions(…,
        from_enrollments=True)`)."""
        return bool(self.programme and self.country)

    def conditions(self, current_user_id: int | None, *,
                   from_enrollments: bool = False) -> list[ColumnElement[Any]]:
        """Every condition, for a query over startups.

        The enrollment part is `EXISTS` (the startups' own order is walked and each one
        probed), or with `from_enrollments` when `narrows_by_enrollment`, `startups.id IN`
        the programme's enrollments in the country (their copy of it): a range of
        `ix_enrollments_country_column`, then each startup by primary key. The two find the
        same startups."""
        conditions = self.startup_conditions(current_user_id)
        on_enrollment = self.enrollment_conditions()
        if on_enrollment and from_enrollments and self.narrows_by_enrollment:
            conditions.append(Startup.id.in_(select(Enrollment.startup_id).where(
                *on_enrollment, Enrollment.country == self.country)))
        elif on_enrollment:
            conditions.append(exists().where(Enrollment.startup_id == Startup.id,
                                             and_(*on_enrollment)))
        return conditions
