"""The form that creates an API token: a name, its scopes, its lifetime and the password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from crm.api import tokens
from crm.users.account_forms import ConfirmPasswordForm

READ_ONLY = _l("Read only")
READ_AND_WRITE = _l("Read and write")


class CreateTokenForm(ConfirmPasswordForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       filters=[lambda value: value.strip() if value else value],
                       description=_l("What the token is for, e.g. “Weekly figures script”."),
                       render_kw={"autocomplete": "off"})
    access = RadioField(_l("Access"), default=tokens.READ,
                        choices=[SelectChoice(tokens.READ, READ_ONLY),
                                 SelectChoice(tokens.WRITE, READ_AND_WRITE)])
    days = SelectField(_l("Expires after"), coerce=int, default=90,
                       choices=[SelectChoice(days, _l("%(num)d days", num=days))
                                for days in tokens.EXPIRY_DAYS])

    def __init__(self, *args, may_write: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not may_write:  # viewers read only: write is not offered (and refused if sent)
            self.access.choices = [SelectChoice(tokens.READ, READ_ONLY)]
        self.access.description = None if may_write else _l("Your role reads only.")

    @property
    def scopes(self) -> list[str]:
        return [tokens.READ] if self.access.data == tokens.READ else [tokens.READ, tokens.WRITE]
