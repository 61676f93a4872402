"""Who may change a startup and what hangs off it (enrollments, checklist, documents)."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from crm.core.enums import Role
from crm.db import get_or_404
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


def editable_startup(startup_id: int) -> Startup:
    """The startup the current user may change: 404 if there is none, 403 if not theirs."""
    startup = get_or_404(Startup, startup_id)
    if not can_edit_startup(current_user, startup):
        abort(403)
    return startup
