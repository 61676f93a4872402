"""A staff session's life: started fresh at sign-in, waiting for the second factor, ended
after SESSION_IDLE_MINUTES without a request or SESSION_MAX_HOURS after sign-in, and held at
the two-factor set-up while the desk requires it and the account has none."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from crm.core.clock import utcnow
from crm.core.enums import Language, parse_enum
from crm.db import get_session
from crm.users import services
from crm.users.models import User

SECOND_FACTOR_SECONDS = 300  # to type the code after the password
_SEEN_RESOLUTION = 30  # seconds; the session cookie is rewritten at most this often
#: Where an account without two-factor may go while the desk requires it.
SET_UP_ENDPOINTS = frozenset({"account.two_factor_page", "account.start_two_factor",
                              "account.enable_two_factor", "users.logout",
                              "users.change_locale", "static"})


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    idle_seconds = settings.session_idle_minutes * 60
    max_seconds = settings.session_max_hours * 3600

    @app.before_request
    def _end_stale_sessions_and_hold_for_two_factor():
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = utcnow().timestamp()
        signed_in, seen = session.get("signed_in_at", 0), session.get("seen_at", 0)
        if now - seen > idle_seconds or now - signed_in > max_seconds:
            logout_user()
            session.clear()
            g.session_ended = True
            flash(_("Your session has ended. Please log in again."), "info")
            return None  # a page for staff sends to the login page from here
        if now - seen > _SEEN_RESOLUTION:
            session["seen_at"] = now
        if (g.get("two_factor_required") and not current_user.has_two_factor
                and request.endpoint not in SET_UP_ENDPOINTS):
            return redirect(url_for("account.two_factor_page"))
        return None


def _keep_chosen_locale(user: User) -> None:
    """A language chosen on the login page becomes the user's."""
    chosen_locale = parse_enum(Language, session.get("locale"))
    if chosen_locale is not None:
        services.set_locale(user, chosen_locale)


def start(user: User) -> None:
    """A fresh session at sign-in: nothing from before carries over (no fixation)."""
    _keep_chosen_locale(user)
    session.clear()
    login_user(user, fresh=True)
    session["signed_in_at"] = session["seen_at"] = utcnow().timestamp()
    generate_csrf()


def renew(user: User) -> None:
    """After a change that ended the user's other sessions: this one goes on."""
    login_user(user, fresh=True)


def await_second_factor(user: User, next_path: str | None) -> None:
    """The password was right; the code comes next, within SECOND_FACTOR_SECONDS."""
    _keep_chosen_locale(user)
    session.clear()
    session["second_factor"] = {"user": user.get_id(), "since": utcnow().timestamp(),
                                "next": next_path}


def awaiting_second_factor() -> tuple[User, str | None] | None:
    """The user who typed the right password a moment ago, and where they were going."""
    pending = session.get("second_factor")
    if not isinstance(pending, dict) or \
            utcnow().timestamp() - pending.get("since", 0) > SECOND_FACTOR_SECONDS:
        return None
    user_id, _, version = str(pending.get("user")).partition(":")
    user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user, pending.get("next")
