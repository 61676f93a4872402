"""Forms of the enrollment panel on a startup's page; each carries the revision it was shown at."""

from __future__ import annotations

from datetime import date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from crm.core.enums import ENROLLMENT_STATUS_LABELS, EnrollmentStatus
from crm.documents.services import MAX_DOCUMENT_BYTES
from crm.workflow.definitions import ItemOwner
from crm.workflow.models import ChecklistStatus

CLOSE_REASON_MAX = 500  # Enrollment.close_reason
EVIDENCE_NOTE_MAX = 2000  # ChecklistItem.evidence_note

CHECKLIST_STATUS_LABELS = {
    ChecklistStatus.OPEN: _l("Open"),
    ChecklistStatus.DONE: _l("Done"),
    ChecklistStatus.WAIVED: _l("Waived"),
    ChecklistStatus.NOT_APPLICABLE: _l("Not applicable"),
}

ITEM_OWNER_LABELS = {
    ItemOwner.STARTUP: _l("Startup's task"),
    ItemOwner.DESK: _l("Desk's task"),
    ItemOwner.PROVIDER: _l("Service provider's task"),
}


class _RevisionForm(FlaskForm):
    """The enrollment's revision when the page was shown: a stale page is refused, not applied."""

    revision = IntegerField(_l("Revision"), widget=HiddenInput(), validators=[InputRequired()])


class EnrollForm(FlaskForm):
    programme = SelectField(_l("Enroll in programme"), coerce=int,
                            validators=[InputRequired()])  # choices: the active programmes


class MoveForm(_RevisionForm):
    to_stage = StringField(_l("Move to"), validators=[DataRequired(), Length(max=64)])


class CloseForm(_RevisionForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice(status.value, ENROLLMENT_STATUS_LABELS[status])
                 for status in (EnrollmentStatus.LANDED, EnrollmentStatus.WITHDRAWN,
                                EnrollmentStatus.REJECTED)],
    )
    reason = TextAreaField(_l("Reason"), validators=[Length(max=CLOSE_REASON_MAX)],
                           description=_l("Required when the startup withdraws or is rejected."))


class FieldForm(_RevisionForm):
    key = StringField(_l("Field"), validators=[DataRequired(), Length(max=64)])
    value = StringField(_l("Answer"), validators=[Length(max=200)])


class ChecklistForm(_RevisionForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(status.value, label) for status, label
                                                in CHECKLIST_STATUS_LABELS.items()])
    note = TextAreaField(_l("Evidence note"),
                         validators=[Optional(), Length(max=EVIDENCE_NOTE_MAX)])
    evidence = FileField(_l("Evidence file"),
                         description=_l("PDF, PNG or JPEG, at most %(size)d MB.",
                                        size=MAX_DOCUMENT_BYTES // (1024 * 1024)))
    expires_on = DateField(_l("Expires on"), validators=[Optional()])

    def expires_at(self, zone: ZoneInfo) -> datetime | None:
        """The expiry date as the start of that day in the desk's time zone."""
        day: date | None = self.expires_on.data
        return datetime.combine(day, time.min, tzinfo=zone) if day else None


def panel_forms() -> SimpleNamespace:
    """Unbound forms whose labels, hints and inputs the enrollment panel renders."""
    return SimpleNamespace(enroll=EnrollForm(formdata=None), move=MoveForm(formdata=None),
                           close=CloseForm(formdata=None), field=FieldForm(formdata=None),
                           checklist=ChecklistForm(formdata=None))
