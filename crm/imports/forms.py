"""Forms of the import: the file to upload, and the mapping of its columns onto startup fields."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from crm.imports.fields import FIELD_LABELS, IGNORE, header_key
from crm.imports.models import ImportJob
from crm.startups.profile_forms import country_choices

COLUMN_PREFIX = "column_"


class UploadForm(FlaskForm):
    file = FileField(
        _l("CSV or Excel file"),
        validators=[FileRequired(_l("Choose a file to upload."))],
        description=_l("CSV (separated by commas, semicolons or tabs; UTF-8 or Windows/Latin-1) "
                       "or .xlsx, at most 10 MB and 50,000 rows. The first row names the "
                       "columns."),
        render_kw={"accept": ".csv,.txt,.tsv,.xlsx,text/csv,application/vnd.openxmlformats-"
                             "officedocument.spreadsheetml.sheet"},
    )


class MappingForm(FlaskForm):
    """One select per column of the file (added by `mapping_form`), plus defaults for every row."""

    default_country = SelectField(
        _l("Country for rows without one"),
        description=_l("Needed when no column holds the country."))
    source_detail = StringField(
        _l("Event or source for every row"), validators=[Optional(), Length(max=200)],
        description=_l("e.g. MEDICA 2026. A column mapped to “Event or source” wins."))

    headers: list[str] = []

    def column_fields(self) -> list[tuple[str, Any]]:
        """(header, its select field) in the file's order."""
        return [(header, self[f"{COLUMN_PREFIX}{index}"])
                for index, header in enumerate(self.headers)]

    def columns(self) -> dict[str, str]:
        """Header key -> chosen field, as the service stores it."""
        return {header_key(header): field.data or IGNORE for header, field in self.column_fields()}

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        chosen: dict[str, str] = {}
        for header, field in self.column_fields():
            if not field.data:
                continue
            if field.data in chosen:
                field.errors.append(_l("“%(field)s” is already the column “%(other)s”.",
                                       field=FIELD_LABELS[field.data], other=chosen[field.data]))
                valid = False
            else:
                chosen[field.data] = header
        if "name" not in chosen:
            self.form_errors.append(_l("Choose the column that holds the startup’s name."))
            valid = False
        if "country" not in chosen and not self.default_country.data:
            self.default_country.errors.append(
                _l("No column holds the country: choose one here, or map a column to "
                   "“Country”."))
            valid = False
        return valid


def _field_choices() -> list[SelectChoice]:
    return [SelectChoice(IGNORE, _l("— ignore —")),
            *(SelectChoice(name, label) for name, label in FIELD_LABELS.items())]


def mapping_form(job: ImportJob, **kwargs) -> MappingForm:
    """The mapping form for this job's columns, prefilled from its mapping unless posted."""

    class JobMappingForm(MappingForm):
        pass

    mapping = job.mapping or {}
    columns = mapping.get("columns", {})
    for index, header in enumerate(job.headers):
        setattr(JobMappingForm, f"{COLUMN_PREFIX}{index}",
                SelectField(header, choices=_field_choices(),
                            default=columns.get(header_key(header), IGNORE)))
    JobMappingForm.headers = list(job.headers)
    form = JobMappingForm(default_country=mapping.get("default_country", ""),
                          source_detail=mapping.get("source_detail", ""), **kwargs)
    choices = country_choices()
    choices[0] = SelectChoice("", _l("None: every row names its country"))
    form.default_country.choices = choices
    return form
