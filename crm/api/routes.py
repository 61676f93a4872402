"""Every API resource module, imported once so its routes join the blueprint."""

from crm.api import (  # noqa: F401
    activities,
    contacts,
    enrollments,
    intake,
    meta,
    programmes,
    startups,
    tasks,
)
from crm.api.blueprint import api

__all__ = ["api"]
