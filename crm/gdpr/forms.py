"""Forms of the GDPR tools: a typed confirmation for erasure, a reason for a restriction."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError


class EraseForm(FlaskForm):
    """Erasure is confirmed by typing a given word (the startup's name, or ERASE for a contact)."""

    confirmation = StringField(_l("Type the confirmation"),
                               validators=[DataRequired(_l("Type the confirmation."))])

    def __init__(self, expected: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_confirmation(self, field) -> None:
        if (field.data or "").strip().casefold() != self.expected.strip().casefold():
            raise ValidationError(_l("This is not what was asked for: nothing was erased."))


class RestrictForm(FlaskForm):
    reason = TextAreaField(_l("Why is processing restricted?"), validators=[
        DataRequired(_l("Say why, e.g. the person contests the data, or a legal hold.")),
        Length(max=500, message=_l("At most %(max)d characters.")),
    ], description=_l("Shown to staff on the startup's page. No personal details needed."))


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (lifting a restriction, withdrawing consent)."""
