"""Who is logged in, and which roles may use a view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.core.enums import Role
from crm.core.tokens import hash_token
from crm.db import get_session
from crm.extensions import login_manager
from crm.users.models import SecurityPolicy, StaffSession, User
from crm.users.sessions import SESSION_KEY

#: Roles that may change startups, enrollments and tasks.
EDITOR_ROLES = (Role.ADMIN, Role.MANAGER, Role.BD_MANAGER)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "users.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(_unauthorized)


def load_user(session_user_id: str) -> User | None:
    """The user for 'id:session_version' whose session row (the cookie's key) is open; a
    deactivated user, an old version or an ended session is nobody."""
    user_id, _, version = session_user_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    key = session.get(SESSION_KEY)
    if not isinstance(key, str):
        return None
    found = get_session().execute(  # the user, their open session and the policy: one query
        select(User, StaffSession, SecurityPolicy.require_two_factor)
        .join(StaffSession, (StaffSession.user_id == User.id)
              & (StaffSession.key_hash == hash_token(key)) & StaffSession.ended_at.is_(None))
        .outerjoin(SecurityPolicy, SecurityPolicy.id == 1)
        .where(User.id == int(user_id))).first()
    if found is None:
        return None
    user, g.staff_session, g.two_factor_required = found
    if not user.is_active or user.session_version != int(version):
        return None
    return user


def _unauthorized():
    if request.accept_mimetypes.best == "application/json" or request.method != "GET":
        abort(401)
    if not g.get("session_ended"):  # that page said so already
        flash(login_manager.login_message, "info")
    return redirect(url_for("users.login", next=request.full_path.rstrip("?")))


def role_required(*roles: Role) -> Callable:
    """Log in first; then only the given roles may pass (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
