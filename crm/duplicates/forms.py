"""Forms of the duplicates pages: "not duplicates" and the merge screen's picks."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectChoice
from wtforms.validators import DataRequired, InputRequired, ValidationError
from wtforms.widgets import HiddenInput

from crm.duplicates.merge import MERGE_FIELDS

SIDES = ("a", "b")


class DismissForm(FlaskForm):
    a = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    b = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    next = HiddenField()


class MergeForm(FlaskForm):
    """Both ids and the versions shown, which record stays, and per field whose value."""

    a = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    b = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    a_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    b_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    survivor = RadioField(_l("Keep the record of"), default="a", validators=[InputRequired()],
                          choices=[SelectChoice("a", _l("left")), SelectChoice("b", _l("right"))])
    confirm = BooleanField(
        _l("I have checked the values: merge, and delete the other record"),
        validators=[DataRequired(message=_l("Tick this to confirm the merge."))])

    def pick(self, name: str):
        return getattr(self, f"pick_{name}")

    def picks(self) -> dict[str, str]:
        """The side chosen per field (only fields whose radios were on the page)."""
        return {name: self.pick(name).data for name in MERGE_FIELDS
                if self.pick(name).data in SIDES}


def _valid_side(_form, field) -> None:
    if field.data not in (None, "", *SIDES):
        raise ValidationError(_l("Pick the left or the right value."))


for _name in MERGE_FIELDS:
    setattr(MergeForm, f"pick_{_name}", RadioField(
        choices=[SelectChoice("a", _l("left")), SelectChoice("b", _l("right"))],
        validate_choice=False, validators=[_valid_side]))
