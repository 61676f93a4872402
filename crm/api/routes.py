"""Every API resource module, imported once so its routes join the blueprint."""

from crm.api import contacts, enrollments, intake, meta, programmes, startups  # noqa: F401
from crm.api.blueprint import api

__all__ = ["api"]
