"""The admin's webhook forms: an endpoint's URL, description and events; confirmations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from crm.intake.forms import MultiCheckboxField
from crm.webhooks.events import EVENT_LABELS


class EndpointForm(FlaskForm):
    url = StringField(_l("URL"), validators=[DataRequired(_l("Enter the URL to send events to.")),
                                             Length(max=2000)],
                      description=_l("https:// recommended. Each event is POSTed here as JSON, "
                                     "signed with the endpoint's secret."),
                      filters=[lambda value: value.strip() if value else value],
                      render_kw={"autocomplete": "off", "spellcheck": "false"})
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)],
                              filters=[lambda value: value.strip() if value else ""])
    events = MultiCheckboxField(_l("Events"), choices=[SelectChoice(event, label) for event, label
                                                       in EVENT_LABELS.items()])

    def validate_events(self, field: MultiCheckboxField) -> None:
        # Not DataRequired: that would mark every checkbox `required` for the browser.
        if not field.data:
            raise ValidationError(_l("Choose at least one event."))


class EditEndpointForm(EndpointForm):
    active = BooleanField(_l("Active"), description=_l(
        "While inactive, no events are queued for this endpoint and those already queued wait."))


class ConfirmDeleteForm(FlaskForm):
    confirm = BooleanField(_l("Delete this endpoint and its delivery log"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class RotateSecretForm(FlaskForm):
    confirm = BooleanField(
        _l("Replace the secret now: the receiver rejects our requests until it has the new one"),
        validators=[DataRequired(_l("Tick the box to confirm."))])
