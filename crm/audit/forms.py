"""The audit page's filters (a GET form: ids and codes only, nothing personal in the address)."""

from __future__ import annotations

import ipaddress
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from crm.audit.actions import GROUP_LABELS, OBJECT_TYPES, WILDCARD, groups

NO_ACTOR = "none"  # events without a person: the public form, the system's jobs
NEWEST, OLDEST = "newest", "oldest"
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
MAX_ID = 2**31 - 1  # an INTEGER column holds no more


def action_choices() -> list[SelectChoice]:
    choices = [SelectChoice("", _l("All actions"))]
    for group, actions in groups().items():
        label = f"{GROUP_LABELS.get(group, group)} ({group}.*)"
        choices.append(SelectChoice(group + WILDCARD, _l("All: %(group)s.*", group=group),
                                    optgroup=label))
        choices += [SelectChoice(action, action, optgroup=label) for action in actions]
    return choices


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: the filters are in the address, nothing changes

    action = SelectField(_l("Action"), default="")
    actor = SelectField(_l("Who"), default="")
    object_type = SelectField(_l("Record type"), default="")
    object_id = IntegerField(_l("Record id"),
                             validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()],
                    description=_l("Days in the desk's time zone, both included."))
    ip_address = StringField(_l("IP address"), validators=[Optional()])
    sort = SelectField(_l("Order"), choices=[SelectChoice(NEWEST, _l("Newest first")),
                                             SelectChoice(OLDEST, _l("Oldest first"))],
                       default=NEWEST)

    def offer(self, staff: list[tuple[int, str]]) -> None:
        """The choices: the known actions by group, every staff account, the record types."""
        self.action.choices = action_choices()
        self.actor.choices = [SelectChoice("", _l("Anyone")),
                              SelectChoice(NO_ACTOR, _l("No one signed in (public, system)")),
                              *(SelectChoice(str(user_id), name) for user_id, name in staff)]
        self.object_type.choices = [SelectChoice("", _l("Any record")),
                                    *(SelectChoice(kind, kind) for kind in OBJECT_TYPES)]

    def validate_ip_address(self, field: StringField) -> None:
        try:
            field.data = str(ipaddress.ip_address(field.data.strip()))
        except ValueError:
            raise ValidationError(
                _l("Enter an IP address such as 192.0.2.1 or 2001:db8::1.")) from None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in (self.start, self.end):
            if field.data is not None and not EARLIEST <= field.data <= LATEST:
                field.errors.append(_l("Choose a date between %(first)s and %(last)s.",
                                       first=EARLIEST.year, last=LATEST.year))
        if not (self.start.errors or self.end.errors) and self.start.data and self.end.data \
                and self.end.data < self.start.data:
            self.end.errors.append(_l("The end comes before the start."))
        return valid and not (self.start.errors or self.end.errors)

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (for the pages and the download), empty ones left out."""
        values = {"action": self.action.data, "actor": self.actor.data,
                  "object_type": self.object_type.data,
                  "object_id": self.object_id.data and str(self.object_id.data),
                  "start": self.start.data and self.start.data.isoformat(),
                  "end": self.end.data and self.end.data.isoformat(),
                  "ip_address": self.ip_address.data,
                  "sort": self.sort.data if self.sort.data != NEWEST else None}
        return {key: value for key, value in values.items() if value}
