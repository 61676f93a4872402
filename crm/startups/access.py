"""Who may change a startup and what hangs off it (enrollments, checklist, documents)."""

from __future__ import annotations

from crm.core.enums import Role
from crm.startups.models import Startup
from crm.users.models import User


def can_edit_startup(user: User | None, startup: Startup) -> bool:
    """Managers and admins always; BD managers their own and unassigned startups; viewers never."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(Role.ADMIN, Role.MANAGER):
        return True
    if user.has_role(Role.BD_MANAGER):
        return startup.owner_id is None or startup.owner_id == user.id
    return False
