"""Forms of a startup's page and the task lists: quick-log, create, tick off, snooze, reassign."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from crm.core.enums import ACTIVITY_KIND_LABELS, LOGGABLE_ACTIVITY_KINDS

SUBJECT_MAX = 200  # Activity.subject, Task.title
BODY_MAX = 10_000


class ActivityForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[SelectChoice(kind.value, ACTIVITY_KIND_LABELS[kind])
                                            for kind in LOGGABLE_ACTIVITY_KINDS])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    body = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=BODY_MAX)])
    occurred_at = DateTimeLocalField(_l("When"), validators=[Optional()],
                                     format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     description=_l("Leave empty for now."))

    def occurred_at_in(self, zone: ZoneInfo) -> datetime | None:
        """The local date and time typed, read in the desk's time zone."""
        local: datetime | None = self.occurred_at.data
        return local.replace(tzinfo=zone) if local else None


class TaskForm(FlaskForm):
    title = StringField(_l("Task"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    due_on = DateField(_l("Due on"), validators=[Optional()])
    assignee = SelectField(_l("Assignee"), coerce=int,
                           validators=[InputRequired()])  # choices: staff who may edit


class TaskStateForm(FlaskForm):
    """Done or undo: nothing to fill in but where to go back to."""

    next = HiddenField()


class SnoozeForm(FlaskForm):
    """One of the snooze buttons (its value names the option) and where to go back to."""

    until = SelectField(choices=[SelectChoice("tomorrow", _l("Tomorrow")),
                                 SelectChoice("next_week", _l("Next week"))],
                        validators=[InputRequired()])
    next = HiddenField()


class ReassignForm(FlaskForm):
    assignee = SelectField(_l("Reassign to"), coerce=int,
                           validators=[InputRequired()])  # choices: staff who may work on it
    next = HiddenField()
