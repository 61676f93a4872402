"""/api/v1/startups: the list with the list view's filters, sorts and keyset cursor; one
startup; create (duplicates refused unless confirmed) and change (versioned)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from babel import Locale
from flask import url_for
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from crm.api.blueprint import actor, api, tag
from crm.api.common import (
    ListQuery,
    Precondition,
    Strict,
    bad_cursor,
    json_response,
    page_response,
    read_responses,
    write_responses,
)
from crm.api.guards import refuse_restricted
from crm.api.problems import ApiProblem
from crm.core.enums import FundingStage, LeadSource, StartupStatus
from crm.db import get_or_404, get_session
from crm.startups import profile
from crm.startups.listing import SORTS, ListView, decode_cursor, list_startups
from crm.startups.models import Startup
from crm.startups.profile import PossibleDuplicates, StaleRecord
from crm.startups.profile_forms import NOT_COUNTRIES

TAGS = tag("Startups", "Foreign startups the desk works with.")

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _country(code: str) -> str:
    code = code.upper()
    if code in NOT_COUNTRIES or code not in Locale("en").territories:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$"), AfterValidator(_country)]


class StagePosition(BaseModel):
    programme: str
    stage: str
    overdue: bool


class StartupSummary(BaseModel):
    id: int
    name: str
    country: str
    city: str | None
    status: StartupStatus
    source: LeadSource
    owner_id: int | None
    owner_name: str | None
    stages: list[StagePosition]
    version: int
    created_at: datetime
    updated_at: datetime


class StartupPage(BaseModel):
    items: list[StartupSummary]
    next_cursor: str | None
    total: int = Field(description="Matches counted up to 10,000.")
    total_capped: bool


class StartupOut(BaseModel):
    id: int
    name: str
    website: str | None
    domain: str | None
    country: str
    city: str | None
    founded_year: int | None
    team_size: int | None
    funding_stage: FundingStage | None
    description: str
    source: LeadSource
    source_detail: str | None
    status: StartupStatus
    owner_id: int | None
    sectors: list[str]
    tags: list[str]
    restricted: bool = Field(description="Processing restricted (GDPR Art. 18): no changes.")
    version: int = Field(description="Send it back (or the ETag as If-Match) to change.")
    created_at: datetime
    updated_at: datetime


class StartupListQuery(ListQuery):
    q: str | None = Field(default=None, max_length=200, description="Name, domain or contact.")
    programme: str | None = Field(default=None, max_length=64, description="Programme key.")
    stage: str | None = Field(default=None, max_length=64, description="With `programme`.")
    country: Country | None = None
    sector: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, pattern=r"^(me|none|\d{1,9})$",
                              description="A user id, `me` or `none`.")
    status: StartupStatus | None = None
    tag: str | None = Field(default=None, max_length=64)
    source: LeadSource | None = None
    event: str | None = Field(default=None, max_length=200)
    overdue: bool = False
    sort: Literal[tuple(SORTS)] = "name"  # type: ignore[valid-type]
    dir: Literal["asc", "desc"] | None = None


class StartupFields(Strict):
    website: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=120)
    founded_year: int | None = Field(default=None, ge=1800, le=2100)
    team_size: int | None = Field(default=None, ge=0, le=1_000_000)
    funding_stage: FundingStage | None = None
    description: str = Field(default="", max_length=20_000)
    source: LeadSource = LeadSource.OTHER
    source_detail: str | None = Field(default=None, max_length=200)
    owner_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    sectors: list[Label] = Field(default_factory=list, max_length=30)
    tags: list[Label] = Field(default_factory=list, max_length=30)


class StartupCreate(StartupFields):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    country: Country
    allow_duplicates: bool = Field(default=False, description="Create even if it probably "
                                   "doubles an existing startup (409 lists them otherwise).")


class StartupChange(StartupFields):
    """Only the fields sent change; `version` or If-Match says which version they change."""

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"\S")
    country: Country | None = None
    description: str | None = Field(default=None, max_length=20_000)
    source: LeadSource | None = None
    version: int | None = Field(default=None, ge=1)


class StartupPath(BaseModel):
    startup_id: int = Field(ge=1, le=2**31 - 1)


def startup_out(startup: Startup) -> StartupOut:
    values = profile.profile_values(get_session(), startup)
    return StartupOut(id=startup.id, domain=startup.domain, status=startup.status,
                      restricted=startup.restricted_at is not None, version=startup.version,
                      created_at=startup.created_at, updated_at=startup.updated_at,
                      **{name: value for name, value in values.items()})


def _refused_values(error: ValueError) -> ApiProblem:
    return ApiProblem(422, str(error), kind="invalid-fields")


@api.get("/startups", tags=TAGS, summary="List startups",
         description="Filters and sorts as the startups list does; keyset pages: pass "
                     "`next_cursor` as `cursor` for the next one.",
         responses=read_responses(StartupPage))
def list_startups_api(query: StartupListQuery):
    args = {name: value for name, value in query.model_dump(mode="json").items()
            if value not in (None, False) and name not in ("cursor", "limit")}
    if query.overdue:
        args["overdue"] = "1"
    view = ListView.from_args(args)
    if query.cursor and decode_cursor(view, query.cursor) is None:
        raise bad_cursor()
    page = list_startups(get_session(), view, actor().id, after=query.cursor,
                         page_size=query.limit)
    items = [StartupSummary(
        id=row.startup.id, name=row.startup.name, country=row.startup.country,
        city=row.startup.city, status=row.startup.status, source=row.startup.source,
        owner_id=row.startup.owner_id, owner_name=row.owner_name, version=row.startup.version,
        created_at=row.startup.created_at, updated_at=row.startup.updated_at,
        stages=[StagePosition(programme=badge.programme_key, stage=badge.stage_key,
                              overdue=badge.overdue) for badge in row.stages])
        for row in page.rows]
    return page_response(StartupPage(items=items, next_cursor=page.next_cursor, total=page.total,
                                     total_capped=page.total_capped), page.next_cursor)


@api.get("/startups/<int:startup_id>", tags=TAGS, summary="One startup",
         responses=read_responses(StartupOut))
def show_startup(path: StartupPath):
    startup = get_or_404(Startup, path.startup_id)
    return json_response(startup_out(startup), version=startup.version)


@api.post("/startups", tags=TAGS, summary="Create a startup",
          responses=write_responses(201, StartupOut))
def create_startup(body: StartupCreate):
    values = body.model_dump(exclude={"allow_duplicates"})
    try:
        startup = profile.create_startup(get_session(), values, actor(),
                                         allow_duplicates=body.allow_duplicates)
    except PossibleDuplicates as found:
        raise ApiProblem(409, "This startup probably exists already. Send allow_duplicates: "
                         "true to create it anyway.", kind="possible-duplicates",
                         duplicates=[{"id": candidate.startup.id, "name": candidate.startup.name,
                                      "score": candidate.score, "reasons": candidate.reasons}
                                     for candidate in found.candidates]) from None
    except ValueError as error:
        raise _refused_values(error) from None
    return json_response(startup_out(startup), 201, version=startup.version,
                         location=url_for("api.show_startup", startup_id=startup.id))


@api.patch("/startups/<int:startup_id>", tags=TAGS, summary="Change a startup",
           responses=write_responses(200, StartupOut, 412, 428))
def change_startup(path: StartupPath, body: StartupChange):
    startup = get_or_404(Startup, path.startup_id)
    refuse_restricted(startup)
    precondition = Precondition(body.version)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    for required in ("name", "country", "description", "source"):
        if required in changes and changes[required] is None:
            raise ApiProblem(422, f"{required} cannot be empty.", kind="invalid-fields")
    try:
        profile.update_profile(get_session(), startup, changes, precondition.version, actor())
    except StaleRecord as stale:
        raise precondition.stale(stale.version) from None
    except ValueError as error:
        raise _refused_values(error) from None
    return json_response(startup_out(startup), version=startup.version)
