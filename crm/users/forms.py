"""Forms for login, invitations, one's own preferences and the admin's user management."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    ValidationError,
)

from crm.core.enums import LANGUAGE_LABELS, REMINDER_DELIVERY_LABELS, ROLE_LABELS
from crm.users.passwords import MIN_PASSWORD_LENGTH, is_guessable

GUESSABLE_PASSWORD = _l("This password is too easy to guess: a common password, a word, a name, "
                        "a date or a keyboard pattern. A few unrelated words make a strong one.")


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=1024,
                   message=_l("Use at least %(min)d and at most %(max)d characters.")),
        ],
        render_kw={"autocomplete": "new-password", "autofocus": True},
        description=_l("At least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, user_inputs: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.user_inputs = user_inputs  # the account's name and email: not in its password

    def validate_password(self, field) -> None:
        if len(field.data or "") >= MIN_PASSWORD_LENGTH and is_guessable(field.data,
                                                                        self.user_inputs):
            raise ValidationError(GUESSABLE_PASSWORD)


def _role_choices():
    return [(role.value, label) for role, label in ROLE_LABELS.items()]


def _language_choices():
    return [(language.value, label) for language, label in LANGUAGE_LABELS.items()]


def _delivery_choices():
    return [(delivery.value, label) for delivery, label in REMINDER_DELIVERY_LABELS.items()]


class InviteUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       render_kw={"autofocus": True})
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=_role_choices)
    locale = SelectField(_l("Language"), choices=_language_choices)


class ChangeRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_role_choices)


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=_language_choices)
    next = HiddenField()


class PreferencesForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=_language_choices,
                         description=_l("Of the pages and of every email you get from the desk."))
    reminder_delivery = RadioField(
        _l("Reminders"), choices=_delivery_choices,
        validators=[InputRequired(message=_l("Choose how reminders reach you."))],
        description=_l("Deadlines coming up or passed, escalations and expiring permits. "
                       "The digest comes at 07:00 on days with something to say, with your "
                       "tasks due that day and overdue."))
    weekly_report = BooleanField(
        _l("Weekly pipeline report"),
        description=_l("By email every Monday 07:00: the pipeline, new leads, moves and "
                       "landings of the week, and what is overdue."))
