"""Login, logout, language choice, one's preferences, invitations and the admin's user pages."""

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
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from crm.core.enums import Language, ReminderDelivery, Role, parse_enum
from crm.core.security import same_site_path
from crm.db import get_or_404, get_session
from crm.extensions import limiter
from crm.users import services
from crm.users.access import role_required
from crm.users.forms import (
    ChangeRoleForm,
    InviteUserForm,
    LocaleForm,
    LoginForm,
    PreferencesForm,
    SetPasswordForm,
)
from crm.users.models import User

bp = Blueprint("users", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths; anything else goes to the start page (My work)."""
    return same_site_path(target) or url_for("work.index")


def _login_limit() -> str:
    return current_app.config["SETTINGS"].login_rate_limit


def _start_session(user: User) -> None:
    """A fresh session at login: nothing from before carries over (no fixation).

    A language chosen on the login page is the one exception: it becomes the user's.
    """
    chosen_locale = parse_enum(Language, session.get("locale"))
    if chosen_locale is not None:
        services.set_locale(user, chosen_locale)
    session.clear()
    login_user(user, fresh=True)
    generate_csrf()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("work.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(
            get_session(), form.email.data, form.password.data, request.remote_addr
        )
        if user is not None:
            _start_session(user)
            return redirect(_safe_next(form.next.data))
        form.password.errors.append(_("Wrong email address or password."))
    return render_template("users/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    services.record_logout(get_session(), current_user, request.remote_addr)
    logout_user()
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
            _start_session(user)
            flash(_("Welcome! Your password is set."), "success")
            return redirect(url_for("work.index"))
    return render_template("users/set_password.html", form=form)


admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(invite_form: InviteUserForm) -> str:
    all_users = get_session().scalars(select(User).order_by(User.is_active.desc(), User.name))
    return render_template("admin/users.html", users=list(all_users), invite_form=invite_form,
                           role_form=ChangeRoleForm())


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
