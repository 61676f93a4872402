"""Signing in and out (password, second factor, emailed reset), language choice, one's
preferences and accepting an invitation."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_time
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.core.enums import Language, ReminderDelivery
from crm.core.security import same_site_path
from crm.db import get_session
from crm.extensions import limiter
from crm.users import credentials, services, sessions, signin
from crm.users.account_forms import ForgotPasswordForm, SecondFactorForm
from crm.users.forms import LocaleForm, LoginForm, PreferencesForm, SetPasswordForm
from crm.users.models import User

bp = Blueprint("users", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths; anything else goes to the start page (My work)."""
    return same_site_path(target) or url_for("work.index")


def _login_limit() -> str:
    return current_app.config["SETTINGS"].login_rate_limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("work.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        db = get_session()
        try:
            user = signin.check_password(db, form.email.data, form.password.data,
                                         request.remote_addr)
        except signin.AccountLocked as locked:
            form.password.errors.append(_locked_message(locked))
        else:
            if user is None:
                form.password.errors.append(_("Wrong email address or password."))
            elif user.has_two_factor:
                sessions.await_second_factor(user, same_site_path(form.next.data))
                return redirect(url_for("users.second_factor"))
            else:
                signin.complete(db, user, request.remote_addr)
                sessions.start(user)
                return redirect(_safe_next(form.next.data))
    # A refusal is answered 200 so that the request commits its audit event and failure count.
    return render_template("users/login.html", form=form)


def _locked_message(locked: signin.AccountLocked) -> str:
    if locked.until is None:
        return _("After too many failed attempts this account is locked. Reset your password "
                 "to unlock it, or ask an administrator.")
    return _("After too many failed attempts this account is locked until %(time)s. Or reset "
             "your password to unlock it now.", time=format_time(locked.until, "short"))


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    pending = sessions.awaiting_second_factor()
    if pending is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("users.login"))
    user, next_path = pending
    form = SecondFactorForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            accepted = signin.check_second_factor(db, user, form.code.data, request.remote_addr)
        except signin.AccountLocked as locked:
            form.code.errors.append(_locked_message(locked))
        else:
            if accepted:
                signin.complete(db, user, request.remote_addr)
                sessions.start(user)
                return redirect(_safe_next(next_path))
            form.code.errors.append(_("This code is not right. Type the 6 digits your app "
                                      "shows now, or one of your recovery codes."))
    return render_template("users/login_code.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    services.record_logout(get_session(), current_user, request.remote_addr)
    sessions.end_current()
    flash(_("You have logged out."), "info")
    return redirect(url_for("users.login"))


@bp.post("/locale")
def change_locale():
    form = LocaleForm()
    if form.validate_on_submit():
        locale = Language(form.locale.data)
        session["locale"] = locale.value
        if current_user.is_authenticated:
            services.set_locale(current_user, locale)
    return redirect(_safe_next(form.next.data))


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(obj=current_user)
    if form.validate_on_submit():
        services.save_preferences(
            get_session(), current_user, locale=Language(form.locale.data),
            reminder_delivery=ReminderDelivery(form.reminder_delivery.data),
            weekly_report=form.weekly_report.data)
        with force_locale(form.locale.data):  # said in the language just chosen
            flash(_("Your preferences are saved."), "success")
        return redirect(url_for("users.preferences"))
    status = 422 if form.is_submitted() else 200
    return render_template("users/preferences.html", form=form), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def accept_invitation(token: str):
    db = get_session()
    invitation = services.open_invitation(db, token)
    if invitation is None:
        return render_template("users/invitation_invalid.html"), 404
    invited = db.get(User, invitation.user_id)
    form = SetPasswordForm(user_inputs=(invited.name, invited.email) if invited else ())
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(db, invitation, form.password.data,
                                              request.remote_addr)
        except services.AccountError as error:
            flash(str(error.message), "error")
        else:
            sessions.start(user)
            flash(_("Welcome! Your password is set."), "success")
            return redirect(url_for("work.index"))
    return render_template("users/set_password.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        credentials.request_reset(get_session(), form.email.data,
                                  current_app.config["SETTINGS"].base_url, request.remote_addr)
        return render_template("users/reset_link_sent.html",
                               minutes=int(credentials.RESET_VALIDITY.total_seconds() // 60))
    return render_template("users/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str):
    db = get_session()
    reset = credentials.open_reset(db, token)
    if reset is None:
        return render_template("users/reset_invalid.html"), 404
    user = db.get(User, reset.user_id)
    form = SetPasswordForm(user_inputs=(user.name, user.email))
    if form.validate_on_submit():
        credentials.complete_reset(db, reset, form.password.data, request.remote_addr)
        flash(_("Your new password is set. Log in with it."), "success")
        return redirect(url_for("users.login"))
    return render_template("users/reset_password.html", form=form), 422 if form.errors else 200
