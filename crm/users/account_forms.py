"""Forms for one's sign-in (password, email, two-factor), the second step of signing in, the
password reset and the admins' security policy."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from crm.users.forms import SetPasswordForm

WRONG_PASSWORD = _l("This is not your current password.")


def _stripped(value: str | None) -> str | None:
    return value.strip() if value else value


def _current_password():
    return PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
        description=_l("To make sure it is you."))


def _one_time_code(autofocus: bool = False):
    return StringField(
        _l("Code"), validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "autofocus": autofocus, "spellcheck": "false",
                   "autocapitalize": "off"})


class SecondFactorForm(FlaskForm):
    code = _one_time_code(autofocus=True)


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)],
                       filters=[_stripped],
                       render_kw={"autocomplete": "username", "autofocus": True})


class ConfirmPasswordForm(FlaskForm):
    current_password = _current_password()


class ChangePasswordForm(SetPasswordForm):
    current_password = _current_password()


class ChangeEmailForm(FlaskForm):
    current_password = _current_password()
    email = EmailField(_l("New email address"),
                       validators=[DataRequired(), Email(), Length(max=254)],
                       filters=[_stripped], render_kw={"autocomplete": "email"})


class EnableTwoFactorForm(FlaskForm):
    current_password = _current_password()
    code = _one_time_code()


class SecurityPolicyForm(FlaskForm):
    require_two_factor = BooleanField(
        _l("Require two-factor sign-in for all staff"),
        description=_l("Anyone without it is asked to set it up right after signing in."))


class WebhookPolicyForm(FlaskForm):
    webhooks_allow_private = BooleanField(
        _l("Allow webhooks to private addresses"),
        description=_l("Loopback, private, link-local and carrier-grade NAT addresses (an "
                       "intranet system). Off, such URLs are refused when saved and before each "
                       "delivery, so that webhooks cannot reach services inside the network."))
