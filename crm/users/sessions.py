"""A staff session's life, decided on the server: a row per signed-in browser (its cookie
holds a random key), started fresh at sign-in, waiting for the second factor, ended at logout,
after SESSION_IDLE_MINUTES without a request or SESSION_MAX_HOURS after sign-in, by its user
or an admin; and held at the two-factor set-up while the desk requires it."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import delete, or_, select
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import Language, parse_enum
from crm.core.tokens import new_token
from crm.db import get_session
from crm.users import services
from crm.users.models import StaffSession, User

#: The session cookie's entry holding the browser's key (its hash is the row's key_hash).
SESSION_KEY = "staff_session"
SECOND_FACTOR_SECONDS = 300  # to type the code after the password
_SEEN_RESOLUTION = timedelta(seconds=30)  # last_seen_at is written at most this often
_KEPT_FOR = timedelta(days=30)  # ended sessions stay listed (and audited) this long
#: Where an account without two-factor may go while the desk requires it.
SET_UP_ENDPOINTS = frozenset({"account.two_factor_page", "account.start_two_factor",
                              "account.enable_two_factor", "users.logout",
                              "users.change_locale", "static"})


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    idle = timedelta(minutes=settings.session_idle_minutes)
    longest = timedelta(hours=settings.session_max_hours)

    @app.before_request
    def _end_stale_sessions_and_hold_for_two_factor():
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        row: StaffSession = g.staff_session
        now = utcnow()
        if now - row.last_seen_at > idle or now - row.started_at > longest:
            row.ended_at = now
            logout_user()
            session.clear()
            g.session_ended = True
            flash(_("Your session has ended. Please log in again."), "info")
            return None  # a page for staff sends to the login page from here
        if now - row.last_seen_at > _SEEN_RESOLUTION:
            row.last_seen_at = now
        if (g.get("two_factor_required") and not current_user.has_two_factor
                and request.endpoint not in SET_UP_ENDPOINTS):
            return redirect(url_for("account.two_factor_page"))
        return None


def _keep_chosen_locale(user: User) -> None:
    """A language chosen on the login page becomes the user's."""
    chosen_locale = parse_enum(Language, session.get("locale"))
    if chosen_locale is not None:
        services.set_locale(user, chosen_locale)


def _open_row(db: Session, user: User, started_at: datetime | None = None) -> str:
    """A new session row for this browser; its key, for the cookie."""
    now = utcnow()
    db.execute(delete(StaffSession).where(
        StaffSession.user_id == user.id,
        or_(StaffSession.ended_at < now - _KEPT_FOR, StaffSession.started_at < now - _KEPT_FOR)))
    key, key_hash = new_token()
    db.add(StaffSession(user_id=user.id, key_hash=key_hash, started_at=started_at or now,
                        last_seen_at=now, ip_address=request.remote_addr,
                        user_agent=request.user_agent.string[:200] or None))
    return key


def start(user: User) -> None:
    """A fresh session at sign-in: nothing from before carries over (no fixation)."""
    _keep_chosen_locale(user)
    session.clear()
    login_user(user, fresh=True)
    session[SESSION_KEY] = _open_row(get_session(), user)
    generate_csrf()


def renew(user: User) -> None:
    """After a change that ended all the user's sessions: this browser goes on, in a new session
    that keeps the old one's start (the 12 hours still count from the sign-in)."""
    current = g.get("staff_session")
    login_user(user, fresh=True)
    session[SESSION_KEY] = _open_row(get_session(), user,
                                     current.started_at if current is not None else None)


def end_current() -> None:
    """Logging out: this session's row ends, so its cookie is worthless even if copied."""
    row = g.get("staff_session")
    if row is not None:
        row.ended_at = utcnow()
    logout_user()


def end_others(db: Session, user: User) -> None:
    """Every other browser of the user is signed out; this one goes on."""
    services.end_sessions(db, user)
    renew(user)


def open_sessions(db: Session, user: User) -> list[StaffSession]:
    return list(db.scalars(select(StaffSession).where(
        StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .order_by(StaffSession.last_seen_at.desc())))


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
