"""Admin pages for programmes: versions, differences, new definitions, enrollment migration."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from crm.core.enums import ENROLLMENT_STATUS_LABELS, Role
from crm.db import abandon_request_changes, get_session
from crm.programmes import queries, services
from crm.programmes.forms import (
    DefinitionForm,
    DiffForm,
    MigrationChoiceForm,
    MigrationForm,
    migration_form,
    stage_mapping,
)
from crm.programmes.models import Programme, ProgrammeVersion
from crm.users.access import role_required
from crm.workflow import engine
from crm.workflow.definitions import DefinitionError, ProgrammeDefinition

bp = Blueprint("programme_admin", __name__, url_prefix="/admin/programmes")


def _locale() -> str:
    return str(get_locale() or "en")


def _programme_or_404(key: str) -> Programme:
    programme = get_session().scalar(select(Programme).where(Programme.key == key))
    if programme is None:
        abort(404)
    return programme


# The list and new programmes ------------------------------------------------------------------


def _list_page(form: DefinitionForm) -> str:
    db = get_session()
    return render_template("admin/programmes.html", programmes=queries.all_programmes(db),
                           open_counts=queries.open_enrollments_per_version(db), form=form)


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    return _list_page(DefinitionForm())


@bp.post("/")
@role_required(Role.ADMIN)
def create():
    form = DefinitionForm()
    if form.validate_on_submit():
        result = _load(form, new=True)
        if result is not None:
            flash(_("Programme %(name)s created with version %(number)d.",
                    name=result.programme.name(_locale()), number=result.version.number),
                  "success")
            return redirect(url_for(".show", key=result.programme.key))
    return _list_page(form), 422


def _load(form: DefinitionForm, **expectation) -> services.LoadResult | None:
    """Load the form's definition; on refusal the problems go next to the text, kept as sent."""
    try:
        return services.load_definition(get_session(), form.definition_text, form.source_name,
                                        current_user.id, **expectation)
    except DefinitionError as error:
        form.text.errors.extend(f"{where}: {_readable(what)}" for where, what in error.problems)
    except IntegrityError:  # another admin loaded this programme's next version just now
        abandon_request_changes()
        form.text.errors.append(_("Another definition of this programme was loaded at the same "
                                  "moment. Look at its versions and try again."))
    form.text.data = form.definition_text  # an uploaded file's text too, to correct it here
    return None


def _readable(what) -> str:
    return str(what).removeprefix("Value error, ")  # pydantic's prefix for cross-checks


# One programme --------------------------------------------------------------------------------


def _programme_page(programme: Programme, upload_form: DefinitionForm) -> str:
    versions = queries.programme_versions(get_session(), programme.id)
    current = next((row.version for row in versions
                    if row.version.number == programme.current_version), None)
    return render_template(
        "admin/programme.html", programme=programme, versions=versions,
        definition=current.parsed if current else None, upload_form=upload_form,
        diff_form=_diff_form(versions, formdata=None),
        migration=_migration(programme, versions),
        stages=_stages_with_gates(current.parsed, _locale()) if current else [],
        status_labels=ENROLLMENT_STATUS_LABELS,
    )


def _stages_with_gates(definition: ProgrammeDefinition, locale: str) -> list[tuple]:
    """Each stage with what its gate requires, named in the user's language."""
    rows = []
    for stage in definition.stages:
        gate = stage.gate
        rows.append((stage, {
            "checklist": [definition.checklist_item(key).label(locale) for key in gate.checklist],
            "startup_fields": [engine.STARTUP_FIELD_LABELS[name](locale)
                               for name in gate.startup_fields],
            "answers": [definition.field(key).label(locale) for key in gate.enrollment_fields],
            "contact_email": (engine.CONTACT_EMAIL_LABEL(locale) if gate.contact_with_email
                              else None),
        }))
    return rows


def _migration(programme: Programme, versions: list[queries.VersionRow]) -> dict | None:
    """The migration section: the chosen pair of versions and the mapping form for it."""
    sources = [row for row in versions if row.open_enrollments]
    if not sources:
        return None
    choice = MigrationChoiceForm(formdata=request.args)
    choice.from_version.choices = [
        SelectChoice(row.version.number, _("%(number)d (open: %(count)d)",
                                           number=row.version.number,
                                           count=row.open_enrollments))
        for row in sources]
    choice.to_version.choices = [SelectChoice(row.version.number, str(row.version.number))
                                 for row in versions]
    by_number = {row.version.number: row.version for row in versions}
    current = by_number.get(programme.current_version) or versions[0].version
    # By default: the newest other version that still has open enrollments, to the current one.
    default_source = next((row for row in sources if row.version.id != current.id), sources[0])
    source = next((row for row in sources
                   if row.version.number == request.args.get("from_version", type=int)),
                  default_source)
    target = by_number.get(request.args.get("to_version", type=int), current)
    choice.from_version.data, choice.to_version.data = source.version.number, target.number

    locale = _locale()
    source_definition = source.version.parsed
    in_use = queries.open_enrollments_per_stage(get_session(), source.version.id)
    ordered = [key for key in source_definition.stage_keys() if key in in_use]
    ordered += sorted(set(in_use) - set(ordered))  # a stage the definition lost (never expected)
    stages = [(key, _stage_label(source_definition, key, locale)) for key in ordered]
    form = migration_form(stages, target.parsed, locale, from_version=source.version.number,
                          to_version=target.number)
    return {"choice": choice, "form": form, "source": source, "target": target,
            "counts": in_use, "same": source.version.number == target.number}


def _stage_label(definition, key: str, locale: str) -> str:
    try:
        return definition.stage(key).label(locale)
    except KeyError:
        return key


def _diff_form(versions: list[queries.VersionRow], formdata) -> DiffForm:
    form = DiffForm(formdata=formdata)
    form.offer([row.version.number for row in versions])
    if formdata is None and len(versions) > 1:  # the newest change by default
        form.old.data, form.new.data = versions[1].version.number, versions[0].version.number
    return form


@bp.get("/<key>")
@role_required(Role.ADMIN)
def show(key: str):
    return _programme_page(_programme_or_404(key), DefinitionForm())


@bp.post("/<key>/definitions")
@role_required(Role.ADMIN)
def upload(key: str):
    programme = _programme_or_404(key)
    form = DefinitionForm()
    if form.validate_on_submit():
        result = _load(form, programme_key=programme.key)
        if result is not None:
            if result.changed:
                flash(_("Version %(number)d loaded.", number=result.version.number), "success")
            else:
                flash(_("Unchanged: the definition equals version %(number)d.",
                        number=result.version.number), "info")
            return redirect(url_for(".show", key=programme.key))
    return _programme_page(programme, form), 422


@bp.get("/<key>/versions/<int:number>.yaml")
@role_required(Role.ADMIN)
def download(key: str, number: int):
    programme = _programme_or_404(key)
    version = get_session().scalar(select(ProgrammeVersion).where(
        ProgrammeVersion.programme_id == programme.id, ProgrammeVersion.number == number))
    if version is None:
        abort(404)
    return Response(version.source_text, mimetype="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="{programme.key}-v{number}.yaml"'})


@bp.get("/<key>/diff")
@role_required(Role.ADMIN)
def diff(key: str):
    programme = _programme_or_404(key)
    versions = queries.programme_versions(get_session(), programme.id)
    form = _diff_form(versions, formdata=request.args or None)
    if len(versions) < 2:
        return render_template("admin/programme_diff.html", programme=programme, form=form,
                               old=None, new=None, lines=[])
    if not form.validate():
        abort(404)
    by_number = {row.version.number: row.version for row in versions}
    old, new = by_number[form.old.data], by_number[form.new.data]
    return render_template("admin/programme_diff.html", programme=programme, form=form,
                           old=old, new=new, lines=_classified(services.version_diff(old, new)))


def _classified(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, line) for the template: the two file headers, hunk marks, added, removed, same."""
    kinds = []
    for position, line in enumerate(lines):
        if position < 2:
            kind = "header"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "added", "-": "removed"}.get(line[:1], "same")
        kinds.append((kind, line))
    return kinds


@bp.post("/<key>/migrate")
@role_required(Role.ADMIN)
def migrate(key: str):
    programme = _programme_or_404(key)
    form = MigrationForm()
    numbers = form.numbers() if form.validate_on_submit() else None
    if numbers is None:
        flash(_("Choose the versions again."), "error")
        return redirect(url_for(".show", key=programme.key))
    from_number, to_number = numbers
    try:
        moved = engine.migrate_enrollments(
            get_session(), programme, from_number=from_number, to_number=to_number,
            stage_mapping=stage_mapping(request.form), actor=engine.Actor.user(current_user))
    except engine.WorkflowError as error:
        abandon_request_changes()
        flash(str(error.message), "error")
        return redirect(url_for(".show", key=programme.key, from_version=from_number,
                                to_version=to_number, _anchor="migration"))
    flash(ngettext("%(num)d enrollment moved from version %(old)d to version %(new)d.",
                   "%(num)d enrollments moved from version %(old)d to version %(new)d.",
                   moved, old=from_number, new=to_number), "success")
    return redirect(url_for(".show", key=programme.key))
