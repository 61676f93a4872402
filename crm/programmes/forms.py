"""Forms of the programme admin: a definition to load, two versions to compare, a migration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileSize
from werkzeug.utils import secure_filename
from wtforms import HiddenField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from crm.workflow.definitions import ProgrammeDefinition

#: A definition is a few kilobytes of YAML; anything far larger is not one.
MAX_DEFINITION_BYTES = 256 * 1024
#: Mapping fields of the migration form are named after the stage they map.
STAGE_FIELD_PREFIX = "stage_"


class DefinitionForm(FlaskForm):
    """A YAML definition, uploaded as a file or pasted; `definition_text` after validation."""

    file = FileField(
        _l("Definition file (.yaml)"),
        validators=[
            FileAllowed(["yaml", "yml"], _l("Choose a .yaml file.")),
            FileSize(MAX_DEFINITION_BYTES, message=_l("The file is larger than %(max)d KB.",
                                                      max=MAX_DEFINITION_BYTES // 1024)),
        ],
        render_kw={"accept": ".yaml,.yml"},
    )
    text = TextAreaField(
        _l("…or paste the definition"),
        validators=[Length(max=MAX_DEFINITION_BYTES,
                           message=_l("The text is longer than %(max)d characters."))],
        render_kw={"rows": 18, "spellcheck": "false", "class": "code"},
    )

    definition_text: str = ""
    source_name: str = ""

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        has_file = bool(self.file.data)
        has_text = bool((self.text.data or "").strip())
        if has_file and has_text:
            self.file.errors.append(_("Upload a file or paste the text, not both."))
            return False
        if not has_file and not has_text:
            self.text.errors.append(_("Upload a .yaml file or paste the definition."))
            return False
        if has_file:
            try:
                text = self.file.data.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
            if text is None or "\x00" in text:
                self.file.errors.append(_("The file is not a UTF-8 text file."))
                return False
            self.source_name = secure_filename(self.file.data.filename or "") or "upload.yaml"
        else:
            text = self.text.data
            self.source_name = "text"
        self.definition_text = text.replace("\r\n", "\n")
        return True


class DiffForm(FlaskForm):
    """Two versions to compare (a GET form: the choice is in the address, nothing changes)."""

    class Meta:
        csrf = False

    old = SelectField(_l("Compare version"), coerce=int)
    new = SelectField(_l("with version"), coerce=int)

    def offer(self, numbers: list[int]) -> None:
        self.old.choices = self.new.choices = [SelectChoice(number, str(number))
                                               for number in numbers]


class MigrationChoiceForm(FlaskForm):
    """Which enrollments to migrate: those open on `from` (a GET form that shows the mapping)."""

    class Meta:
        csrf = False

    from_version = SelectField(_l("Move the open enrollments of version"), coerce=int,
                               render_kw={"data-autosubmit": ""})
    to_version = SelectField(_l("to version"), coerce=int, render_kw={"data-autosubmit": ""})


class MigrationForm(FlaskForm):
    """The migration itself; the stage selects are added per stage in use (`migration_form`)."""

    from_version = HiddenField(validators=[DataRequired()])
    to_version = HiddenField(validators=[DataRequired()])

    def numbers(self) -> tuple[int, int] | None:
        try:
            return int(self.from_version.data), int(self.to_version.data)
        except (TypeError, ValueError):
            return None

    def stage_fields(self) -> list[tuple[str, SelectField]]:
        """(stage key, its select), in the order the stages were given."""
        return [(field.name.removeprefix(STAGE_FIELD_PREFIX), field) for field in self
                if field.name.startswith(STAGE_FIELD_PREFIX)]


def migration_form(stages_in_use: Iterable[tuple[str, str]], target: ProgrammeDefinition,
                   locale: str, **data) -> MigrationForm:
    """A form with one select per (stage key, label) in use, offering the target's active stages.

    The same key is preselected when the target has it as an active stage.
    """
    active = [SelectChoice(stage.key, stage.label(locale)) for stage in target.active_stages()]
    active_keys = {choice.value for choice in active}

    class Form(MigrationForm):
        pass

    for key, label in stages_in_use:
        setattr(Form, STAGE_FIELD_PREFIX + key, SelectField(
            label, choices=[SelectChoice("", _l("— choose a stage —")), *active],
            default=key if key in active_keys else "",
            # The engine is the judge: it refuses a closing or unknown stage with its message.
            validate_choice=False,
        ))
    return Form(formdata=None, **data)


def stage_mapping(formdata: Mapping[str, str]) -> dict[str, str]:
    """The posted mapping {stage in use: target stage}; unanswered stages are left out."""
    return {name.removeprefix(STAGE_FIELD_PREFIX): value
            for name, value in formdata.items()
            if name.startswith(STAGE_FIELD_PREFIX) and value}
