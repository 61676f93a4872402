"""One's own sign-in settings: password, email address, two-factor and recovery codes. Every
change asks for the current password first (re-authentication)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from crm.core import audit
from crm.db import get_session
from crm.users import credentials, policy, sessions, signin, two_factor
from crm.users.account_forms import (
    WRONG_PASSWORD,
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmPasswordForm,
    EnableTwoFactorForm,
)

bp = Blueprint("account", __name__, url_prefix="/account")


def _security_page(status: int = 200, **forms: FlaskForm):
    db = get_session()
    user = current_user._get_current_object()
    forms.setdefault("password_form", ChangePasswordForm(user_inputs=(user.name, user.email)))
    forms.setdefault("email_form", ChangeEmailForm())
    forms.setdefault("confirm_form", ConfirmPasswordForm())
    forms.setdefault("sessions_form", ConfirmPasswordForm(prefix="sessions"))
    return render_template(
        "account/security.html", **forms, open_sessions=sessions.open_sessions(db, user),
        current_session_id=g.staff_session.id,
        codes_left=two_factor.recovery_codes_left(db, user) if user.has_two_factor else 0,
        two_factor_required=policy.current(db).require_two_factor), status


def password_confirmed(form: FlaskForm) -> bool:
    """The form is valid and its current password is right. A wrong one is committed as a
    failure (it counts towards the lock) before the page answers 422; once the account is
    locked the session ends."""
    if not form.validate_on_submit():
        return False
    db = get_session()
    try:
        confirmed = signin.confirm_password(db, current_user, form.current_password.data,
                                            request.remote_addr)
    except signin.AccountLocked:
        confirmed = False
    if not confirmed:
        form.current_password.errors.append(WRONG_PASSWORD)
        db.commit()
    return confirmed


@bp.get("/security")
@login_required
def security():
    return _security_page()


@bp.post("/password")
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm(user_inputs=(user.name, user.email))
    if password_confirmed(form):
        credentials.change_password(get_session(), user, form.password.data,
                                    request.remote_addr)
        sessions.renew(user)
        flash(_("Your password is changed. Your other sessions have ended."), "success")
        return redirect(url_for("account.security"))
    return _security_page(422, password_form=form)


@bp.post("/email")
@login_required
def change_email():
    user = current_user._get_current_object()
    form = ChangeEmailForm()
    if password_confirmed(form):
        if credentials.change_email(get_session(), user, form.email.data, request.remote_addr):
            sessions.renew(user)
            flash(_("Your email address is changed. We told your old address."), "success")
            return redirect(url_for("account.security"))
        form.email.errors.append(_("Another account has this email address."))
    return _security_page(422, email_form=form)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    user = current_user._get_current_object()
    form = ConfirmPasswordForm(prefix="sessions")
    if password_confirmed(form):
        sessions.end_others(get_session(), user)
        audit.record(get_session(), "user.sessions_ended", actor_user_id=user.id,
                     object_type="user", object_id=user.id, ip_address=request.remote_addr,
                     kept_current=True)
        flash(_("Your other sessions have ended."), "success")
        return redirect(url_for("account.security"))
    return _security_page(422, sessions_form=form)


@bp.get("/two-factor")
@login_required
def two_factor_page():
    return _two_factor_setup(EnableTwoFactorForm())


def _two_factor_setup(form: EnableTwoFactorForm, status: int = 200):
    user = current_user._get_current_object()
    if user.has_two_factor:
        return redirect(url_for("account.security"))
    secret = two_factor.secret_of(user)
    uri = two_factor.provisioning_uri(user, secret) if secret else None
    return render_template(
        "account/two_factor.html", form=form, secret=secret,
        qr_code=two_factor.qr_code_data_uri(uri) if uri else None,
        required=policy.current(get_session()).require_two_factor), status


@bp.post("/two-factor/start")
@login_required
def start_two_factor():
    if not current_user.has_two_factor:
        credentials.start_two_factor(current_user)
    return redirect(url_for("account.two_factor_page"))


@bp.post("/two-factor")
@login_required
def enable_two_factor():
    user = current_user._get_current_object()
    if user.has_two_factor or two_factor.secret_of(user) is None:
        return redirect(url_for("account.two_factor_page"))  # on already, or not begun
    form = EnableTwoFactorForm()
    if password_confirmed(form):
        codes = credentials.enable_two_factor(get_session(), user, form.code.data,
                                              request.remote_addr)
        if codes is not None:
            sessions.renew(user)
            return render_template("account/recovery_codes.html", codes=codes, new_setup=True)
        form.code.errors.append(_("This code is not right. Type the 6 digits your app shows "
                                  "now."))
    return _two_factor_setup(form, 422)


def _two_factor_is_off():
    flash(_("Two-factor sign-in is not on for your account."), "info")
    return redirect(url_for("account.security"))


@bp.post("/two-factor/recovery-codes")
@login_required
def renew_recovery_codes():
    user = current_user._get_current_object()
    if not user.has_two_factor:
        return _two_factor_is_off()
    form = ConfirmPasswordForm()
    if password_confirmed(form):
        codes = credentials.renew_recovery_codes(get_session(), user, request.remote_addr)
        return render_template("account/recovery_codes.html", codes=codes, new_setup=False)
    return _security_page(422, confirm_form=form)


@bp.post("/two-factor/disable")
@login_required
def disable_two_factor():
    user = current_user._get_current_object()
    form = ConfirmPasswordForm()
    db = get_session()
    if policy.current(db).require_two_factor:
        flash(_("The desk requires two-factor sign-in: it cannot be turned off."), "error")
        return redirect(url_for("account.security"))
    if not user.has_two_factor:
        return _two_factor_is_off()
    if password_confirmed(form):
        credentials.disable_two_factor(db, user, user, request.remote_addr)
        sessions.renew(user)
        flash(_("Two-factor sign-in is off."), "success")
        return redirect(url_for("account.security"))
    return _security_page(422, confirm_form=form)
