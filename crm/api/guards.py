"""What every API write on a startup's records checks first: a restricted startup (GDPR Art. 18)
is a conflict (409), a startup the caller may not change a refusal (403, recorded as the pages'
refusals are), before the request's version or values are looked at."""

from __future__ import annotations

from crm.api.blueprint import actor
from crm.api.problems import ApiProblem
from crm.startups.access import can_edit_startup
from crm.startups.models import Startup
from crm.startups.services import NotAllowed


def restricted(what: str = "startup") -> ApiProblem:
    return ApiProblem(409, f"Processing of this {what} is restricted (GDPR Art. 18).",
                      kind="restricted")


def refuse_restricted(startup: Startup) -> None:
    if startup.restricted_at is not None:
        raise restricted()


def editable(startup: Startup) -> Startup:
    """The startup, if the caller may change what hangs off it now."""
    refuse_restricted(startup)
    if not can_edit_startup(actor(), startup):
        raise NotAllowed(startup.id)
    return startup
