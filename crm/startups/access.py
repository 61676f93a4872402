"""Who may change a startup and what hangs off it (enrollments, checklist, documents)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.enums import Role
from crm.db import get_or_404
from crm.startups.models import Startup
from crm.users.models import User


def can_edit_startup(user: User | None, startup: Startup, *, even_restricted: bool = False) -> bool:
    """Managers and admins always; BD managers their own and unassigned startups; viewers never;
    nobody while the startup's processing is restricted (GDPR Art. 18, crm/gdpr/restriction.py)
    unless `even_restricted` (recording a withdrawal of consent, which a restriction must not
    stop).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    # getattr: the board passes its cards, which carry only what the rule needs.
    if getattr(startup, "restricted_at", None) is not None and not even_restricted:
        return False
    if user.has_role(Role.ADMIN, Role.MANAGER):
        return True
    if user.has_role(Role.BD_MANAGER):
        return startup.owner_id is None or startup.owner_id == user.id
    return False


def editable_startup(startup_id: int) -> Startup:
    """The startup the current user may change: 404 if there is none, 403 if not theirs; a
    restricted one sends back to its page with a message."""
    startup = get_or_404(Startup, startup_id)
    if startup.restricted_at is not None and current_user.is_authenticated:
        flash(_("Processing of this startup is restricted: it cannot be changed until the "
                "restriction is lifted."), "error")
        abort(redirect(url_for("startups.show", startup_id=startup.id)))
    if not can_edit_startup(current_user, startup):
        abort(403)
    return startup
