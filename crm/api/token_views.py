"""API token pages: one's own tokens (list, create after re-authentication with the secret shown
once, revoke) under /account, and the admins' list of everyone's live tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from crm.api import tokens
from crm.api.models import ApiToken
from crm.api.token_forms import CreateTokenForm
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_or_404, get_session
from crm.users.access import role_required
from crm.users.account_views import password_confirmed
from crm.users.models import User

bp = Blueprint("api_tokens", __name__)


def _tokens_page(form: CreateTokenForm, status: int = 200):
    user = current_user._get_current_object()
    return render_template("api/tokens.html", form=form, now=utcnow(),
                           tokens=tokens.tokens_of(get_session(), user)), status


def _create_form() -> CreateTokenForm:
    return CreateTokenForm(may_write=tokens.may_write(current_user))


@bp.get("/account/api-tokens")
@login_required
def index():
    return _tokens_page(_create_form())


@bp.post("/account/api-tokens")
@login_required
def create():
    """The secret is in this response only: neither in a URL nor in the session."""
    form = _create_form()
    if password_confirmed(form):
        db = get_session()
        try:
            token, secret = tokens.create_token(
                db, current_user._get_current_object(), name=form.name.data,
                scopes=form.scopes, days=form.days.data, ip_address=request.remote_addr)
        except tokens.TokenRefused:
            form.name.errors.append(_("You have %(num)d live tokens, the most there may be. "
                                      "Revoke one first.", num=tokens.TOKENS_PER_USER))
        else:
            return render_template("api/token_created.html", token=token, secret=secret), 201
    return _tokens_page(form, 422)


def _own_token(token_id: int) -> ApiToken:
    token = get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id:
        abort(404)
    return token


@bp.get("/account/api-tokens/<int:token_id>/revoke")
@login_required
def confirm_revoke(token_id: int):
    return render_template("api/revoke_token.html", token=_own_token(token_id), owner=None,
                           action=url_for("api_tokens.revoke", token_id=token_id),
                           back=url_for("api_tokens.index"), form=FlaskForm())


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    return _revoke(_own_token(token_id), url_for("api_tokens.index"))


def _revoke(token: ApiToken, back: str):
    if FlaskForm().validate_on_submit():
        tokens.revoke_token(get_session(), token, current_user._get_current_object(),
                            ip_address=request.remote_addr)
        flash(_("The token “%(name)s” is revoked: it no longer opens the API.",
                name=token.name), "success")
    else:
        flash(_("This form has expired. Please try again."), "error")
    return redirect(back)


@bp.get("/admin/api-tokens")
@role_required(Role.ADMIN)
def admin_index():
    rows = get_session().execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .order_by(User.name, ApiToken.created_at.desc())).all()
    return render_template("api/admin_tokens.html", rows=rows)


@bp.get("/admin/api-tokens/<int:token_id>/revoke")
@role_required(Role.ADMIN)
def admin_confirm_revoke(token_id: int):
    token = get_or_404(ApiToken, token_id)
    return render_template("api/revoke_token.html", token=token,
                           owner=get_session().get(User, token.user_id),
                           action=url_for("api_tokens.admin_revoke", token_id=token_id),
                           back=url_for("api_tokens.admin_index"), form=FlaskForm())


@bp.post("/admin/api-tokens/<int:token_id>/revoke")
@role_required(Role.ADMIN)
def admin_revoke(token_id: int):
    return _revoke(get_or_404(ApiToken, token_id), url_for("api_tokens.admin_index"))
