"""The admin's pages for staff: the user list, invitations, roles, deactivation, unlocking
an account, resetting someone's two-factor, and the desk's security policy."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Language, Role
from crm.db import get_or_404, get_session
from crm.users import credentials, lockout, policy, services
from crm.users.access import role_required
from crm.users.account_forms import SecurityPolicyForm, WebhookPolicyForm
from crm.users.forms import ChangeRoleForm, InviteUserForm
from crm.users.models import User

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(invite_form: InviteUserForm) -> str:
    all_users = list(get_session().scalars(
        select(User).order_by(User.is_active.desc(), User.name)))
    now = utcnow()
    return render_template("admin/users.html", users=all_users, invite_form=invite_form,
                           role_form=ChangeRoleForm(),
                           locked_ids={user.id for user in all_users if lockout.locked(user, now)})


@admin_bp.get("/users")
@role_required(Role.ADMIN)
def users():
    return _users_page(InviteUserForm())


@admin_bp.post("/users/invite")
@role_required(Role.ADMIN)
def invite():
    form = InviteUserForm()
    if form.validate_on_submit():
        try:
            user, link = services.invite_user(
                get_session(), email=form.email.data, name=form.name.data,
                role=Role(form.role.data), locale=Language(form.locale.data), actor=current_user,
                base_url=current_app.config["SETTINGS"].base_url,
            )
        except services.AccountError as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
        else:
            flash(_("%(name)s is invited. The invitation email is in the outbox; "
                    "the link is valid for 7 days: %(link)s", name=user.name, link=link),
                  "success")
            return redirect(url_for("admin.users"))
    return _users_page(form), 422


def _apply(change) -> None:
    try:
        change()
    except services.AccountError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Saved."), "success")


@admin_bp.post("/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int):
    user = get_or_404(User, user_id)
    form = ChangeRoleForm()
    if form.validate_on_submit():
        _apply(lambda: services.change_role(get_session(), user, Role(form.role.data),
                                            current_user))
    else:
        flash(_("Choose a valid role."), "error")
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate(user_id: int):
    user = get_or_404(User, user_id)
    _apply(lambda: services.set_active(get_session(), user, False, current_user))
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<int:user_id>/activate")
@role_required(Role.ADMIN)
def activate(user_id: int):
    user = get_or_404(User, user_id)
    _apply(lambda: services.set_active(get_session(), user, True, current_user))
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<int:user_id>/unlock")
@role_required(Role.ADMIN)
def unlock(user_id: int):
    user = get_or_404(User, user_id)
    lockout.clear(user)
    audit.record(get_session(), "user.unlocked", actor_user_id=current_user.id,
                 object_type="user", object_id=user.id, ip_address=request.remote_addr)
    flash(_("The account is unlocked."), "success")
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<int:user_id>/sessions/end")
@role_required(Role.ADMIN)
def end_sessions(user_id: int):
    user = get_or_404(User, user_id)
    db = get_session()
    services.end_sessions(db, user)
    audit.record(db, "user.sessions_ended", actor_user_id=current_user.id, object_type="user",
                 object_id=user.id, ip_address=request.remote_addr)
    if user.id == current_user.id:
        return redirect(url_for("users.login"))
    flash(_("All sessions of this account have ended."), "success")
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<int:user_id>/two-factor/reset")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    """For someone who lost their phone and their recovery codes: they set it up anew."""
    user = get_or_404(User, user_id)
    if user.has_two_factor or user.totp_secret:
        credentials.disable_two_factor(get_session(), user, current_user, request.remote_addr)
        flash(_("Two-factor sign-in is reset for this account."), "success")
    return redirect(url_for("admin.users"))


@admin_bp.route("/security", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def security():
    db = get_session()
    form = SecurityPolicyForm(obj=policy.current(db))
    if form.validate_on_submit():
        policy.require_two_factor(db, form.require_two_factor.data, current_user)
        flash(_("Saved."), "success")
        return redirect(url_for("admin.security"))
    active = select(func.count()).select_from(User).where(User.is_active)
    return render_template(
        "admin/security.html", form=form,
        webhook_form=WebhookPolicyForm(obj=policy.current(db), formdata=None),
        staff=db.scalar(active),
        with_two_factor=db.scalar(active.where(User.totp_enabled_at.is_not(None))),
        locked=db.scalar(active.where((User.failed_logins >= lockout.HARD_LOCK_AFTER)
                                      | (User.locked_until > utcnow()))),
        idle_minutes=current_app.config["SETTINGS"].session_idle_minutes,
        max_hours=current_app.config["SETTINGS"].session_max_hours)


@admin_bp.post("/security/webhooks")
@role_required(Role.ADMIN)
def webhook_policy():
    form = WebhookPolicyForm()
    if form.validate_on_submit():
        policy.allow_private_webhooks(get_session(), form.webhooks_allow_private.data,
                                      current_user)
        flash(_("Saved."), "success")
    return redirect(url_for("admin.security"))
