"""Forms of the startups list: save a view, delete one, act on selected rows, export."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from crm.startups.listing import QUERY_MAX

VIEW_NAME_MAX = 120  # SavedView.name
TAG_MAX = 64  # StartupTag.tag
MAX_SELECTED = 500
EXPORT_FORMATS = [SelectChoice("csv", "CSV"), SelectChoice("xlsx", "XLSX")]
_SPACES = re.compile(r"\s+")


def clean_tag(text: str | None) -> str:
    """A tag as stored: trimmed, lower-case, single spaces."""
    return _SPACES.sub(" ", (text or "").strip()).lower()


class SaveViewForm(FlaskForm):
    name = StringField(_l("Name of this view"),
                       validators=[DataRequired(), Length(max=VIEW_NAME_MAX)])
    # The list's query string; re-read through the filters, whose values are capped, and
    # checked for length by the view (the error belongs next to the name).
    view = HiddenField()


class DeleteViewForm(FlaskForm):
    """The saved view is in the URL; `view` is the list to go back to."""

    view = HiddenField(validators=[Length(max=QUERY_MAX)])


class ExportForm(FlaskForm):
    view = HiddenField(validators=[Length(max=QUERY_MAX)])
    format = SelectField(_l("Format"), choices=EXPORT_FORMATS, validators=[DataRequired()])


class BulkForm(FlaskForm):
    """Selected rows of a list page and what to do with them.

    "Select all on this page" works without JavaScript: the page's row ids travel along in
    `page_ids` and are used when `whole_page` is ticked.
    """

    ids = SelectMultipleField(coerce=int, validate_choice=False)
    whole_page = BooleanField(_l("Select all on this page"), id="bulk-whole-page")
    page_ids = HiddenField()
    view = HiddenField(validators=[Length(max=QUERY_MAX)])
    after = HiddenField(validators=[Length(max=QUERY_MAX)])  # the page's cursor, to go back
    # Each action checks the field it needs (the view), the others may be left empty.
    owner = SelectField(_l("New owner"), coerce=str, validate_choice=False, id="bulk-owner")
    tag = StringField(_l("Tag to add"), validators=[Optional(), Length(max=TAG_MAX)],
                      id="bulk-tag")
    format = SelectField(_l("Format"), choices=EXPORT_FORMATS, validate_choice=False,
                         id="bulk-format")

    def selected_ids(self) -> list[int]:
        """The rows to act on: the ticked ones, or the whole page; at most MAX_SELECTED."""
        chosen = list(self.ids.data or [])
        if self.whole_page.data:
            chosen = [int(part) for part in (self.page_ids.data or "").split(",")
                      if part.strip().isdigit()]
        return list(dict.fromkeys(chosen))[:MAX_SELECTED]
