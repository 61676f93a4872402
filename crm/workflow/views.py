"""Staff actions on enrollments from a startup's page: enroll, move, close, fields, checklist.

Each view loads and authorises, validates its form, calls one engine function and redirects
back to the startup's page (Post/Redirect/Get). A refusal rolls back whatever the request wrote
and says why, naming what is missing.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlmodel import Session
from wtforms import SelectChoice

from crm.core.enums import ENROLLMENT_STATUS_LABELS, EnrollmentStatus
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.documents.services import DocumentRejected, store_document
from crm.programmes.models import Programme
from crm.startups.access import editable_startup
from crm.workflow import engine
from crm.workflow.engine import Actor, DependenciesOpen, GateNotMet, WorkflowError
from crm.workflow.forms import ChecklistForm, CloseForm, EnrollForm, FieldForm, MoveForm
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment

bp = Blueprint("workflow", __name__)


def _locale() -> str:
    return str(get_locale() or "en")


def _back_to(startup_id: int, anchor: str | None = None):
    return redirect(url_for("startups.show", startup_id=startup_id, _anchor=anchor))


def _editable_enrollment(db: Session, enrollment_id: int) -> Enrollment:
    enrollment = get_or_404(Enrollment, enrollment_id)
    editable_startup(enrollment.startup_id)
    return enrollment


def _invalid(form) -> None:
    """Say what was wrong with the form, field by field."""
    for field in form:
        for error in field.errors:
            if field.name in ("revision", "csrf_token"):
                flash(_("This form is incomplete. Reload the page and try again."), "error")
            else:
                flash(f"{field.label.text}: {error}", "error")


def _refused(error: WorkflowError) -> None:
    """Undo what the request wrote, then say why, naming every missing item."""
    abandon_request_changes()
    flash(str(error.message), "error")
    locale = _locale()
    if isinstance(error, GateNotMet) and error.missing:
        flash(_("Missing: %(items)s",
                items=", ".join(item.label(locale) for item in error.missing)), "error")
    if isinstance(error, DependenciesOpen) and error.open_dependencies:
        flash(_("Settle these first: %(items)s",
                items=", ".join(item.label(locale) for item in error.open_dependencies)),
              "error")


def _anchor(enrollment: Enrollment) -> str:
    return f"enrollment-{enrollment.id}"


@bp.post("/startups/<int:startup_id>/enrollments")
@login_required
def enroll(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    form = EnrollForm()
    programmes = {programme.id: programme for programme in db.scalars(
        select(Programme).where(Programme.is_active))}
    form.programme.choices = [SelectChoice(pid, programme.name(_locale()))
                              for pid, programme in programmes.items()]
    if not form.validate_on_submit():
        _invalid(form)
        return _back_to(startup_id)
    programme = programmes[form.programme.data]
    try:
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.user(current_user))
    except WorkflowError as error:
        _refused(error)
        return _back_to(startup_id)
    flash(_("Enrolled in %(programme)s.", programme=programme.name(_locale())), "success")
    return _back_to(startup_id, _anchor(enrollment))


@bp.post("/enrollments/<int:enrollment_id>/move")
@login_required
def move(enrollment_id: int):
    db = get_session()
    enrollment = _editable_enrollment(db, enrollment_id)
    form = MoveForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    definition = engine.definition_of(db, enrollment)
    target = next((stage for stage in definition.stages if stage.key == form.to_stage.data), None)
    if target is not None and target.closes_as:
        # Ending goes through the close form, which asks for the reason.
        flash(_("Use “Close this enrollment” to end it."), "error")
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    try:
        engine.move(db, enrollment, form.to_stage.data, Actor.user(current_user),
                    expected_revision=form.revision.data)
    except WorkflowError as error:
        _refused(error)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    flash(_("Moved to %(stage)s.", stage=target.label(_locale())), "success")
    return _back_to(enrollment.startup_id, _anchor(enrollment))


@bp.post("/enrollments/<int:enrollment_id>/close")
@login_required
def close(enrollment_id: int):
    db = get_session()
    enrollment = _editable_enrollment(db, enrollment_id)
    form = CloseForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    outcome = EnrollmentStatus(form.outcome.data)
    try:
        engine.close(db, enrollment, outcome, Actor.user(current_user), reason=form.reason.data,
                     expected_revision=form.revision.data)
    except WorkflowError as error:
        _refused(error)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    flash(_("Closed as %(outcome)s.", outcome=ENROLLMENT_STATUS_LABELS[outcome]), "success")
    return _back_to(enrollment.startup_id, _anchor(enrollment))


@bp.post("/enrollments/<int:enrollment_id>/fields")
@login_required
def set_field(enrollment_id: int):
    db = get_session()
    enrollment = _editable_enrollment(db, enrollment_id)
    form = FieldForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    try:
        engine.set_field(db, enrollment, form.key.data, form.value.data or "",
                         Actor.user(current_user), expected_revision=form.revision.data)
    except WorkflowError as error:
        _refused(error)
        return _back_to(enrollment.startup_id, _anchor(enrollment))
    flash(_("Saved."), "success")
    return _back_to(enrollment.startup_id, _anchor(enrollment))


@bp.post("/enrollments/<int:enrollment_id>/checklist/<int:item_id>")
@login_required
def settle_item(enrollment_id: int, item_id: int):
    db = get_session()
    enrollment = _editable_enrollment(db, enrollment_id)
    item = db.get(ChecklistItem, item_id)
    if item is None or item.enrollment_id != enrollment.id:
        abort(404)
    anchor = f"checklist-item-{item.id}"
    form = ChecklistForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back_to(enrollment.startup_id, anchor)
    upload = form.evidence.data
    try:
        document = (store_document(db, enrollment.startup_id, upload, current_user.id)
                    if upload is not None and upload.filename else None)
        engine.settle_checklist_item(
            db, item, ChecklistStatus(form.status.data), Actor.user(current_user),
            note=form.note.data, document_id=document.id if document else None,
            expires_at=form.expires_at(current_app.config["SETTINGS"].tz),
            expected_revision=form.revision.data,
        )
    except DocumentRejected as error:
        abandon_request_changes()
        flash(str(error.message), "error")
        return _back_to(enrollment.startup_id, anchor)
    except WorkflowError as error:
        _refused(error)
        return _back_to(enrollment.startup_id, anchor)
    label = engine.definition_of(db, enrollment).checklist_item(item.key).label(_locale())
    flash(_("%(item)s: saved.", item=label), "success")
    return _back_to(enrollment.startup_id, anchor)
