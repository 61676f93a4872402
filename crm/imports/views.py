"""Import pages: upload, map the columns, the dry-run report, the run and its progress."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.db import abandon_request_changes, get_or_404, get_session
from crm.imports import services
from crm.imports.fields import FIELD_LABELS
from crm.imports.forms import MappingForm, UploadForm, mapping_form
from crm.imports.models import ImportJob
from crm.imports.reading import ImportFileRejected
from crm.imports.rows import problem_text
from crm.users.access import EDITOR_ROLES, role_required

bp = Blueprint("imports", __name__, url_prefix="/imports")

#: The report's filters: the name in the URL -> the outcomes shown.
REPORT_FILTERS = {
    "problems": (services.ERROR, services.DUPLICATE),
    "error": (services.ERROR,),
    "duplicate": (services.DUPLICATE,),
    "create": (services.CREATE,),
    "update": (services.UPDATE,),
    "all": services.OUTCOMES,
}


def _job(job_id: int) -> ImportJob:
    job = get_or_404(ImportJob, job_id)
    if not services.can_see_job(current_user, job):
        abort(403)
    return job


def _tell_refused(refused: services.ImportRefused) -> None:
    """Nothing the refused action half-wrote stays; the user is told why."""
    abandon_request_changes()
    flash(str(refused.message), "error")


@bp.get("/")
@role_required(*EDITOR_ROLES)
def index():
    return _index(UploadForm(formdata=None))


def _index(form: UploadForm, status: int = 200):
    jobs, older = services.visible_jobs(get_session(), current_user,
                                        before_id=request.args.get("before", type=int))
    return render_template("imports/index.html", form=form, jobs=jobs, older=older,
                           status_labels=services.IMPORT_STATUS_LABELS,
                           show_owner=current_user.role in ("admin", "manager")), status


@bp.post("/")
@role_required(*EDITOR_ROLES)
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    try:
        job = services.upload(get_session(), form.file.data, current_user)
    except ImportFileRejected as refused:
        abandon_request_changes()
        form.file.errors.append(refused.message)
        return _index(form, 422)
    if job.mapping.get("remembered"):
        flash(_("These columns were imported before: their mapping is filled in."), "info")
    return redirect(url_for("imports.mapping", job_id=job.id))


@bp.route("/<int:job_id>/mapping", methods=["GET", "POST"])
@role_required(*EDITOR_ROLES)
def mapping(job_id: int):
    job = _job(job_id)
    if request.method == "GET":
        return _mapping_page(job, mapping_form(job, formdata=None))
    form = mapping_form(job)
    if not form.validate_on_submit():
        return _mapping_page(job, form, 422)
    db = get_session()
    try:
        services.save_mapping(db, job, form.columns(), form.default_country.data,
                              form.source_detail.data, current_user)
        checked_now = services.check(db, job, current_user)
    except services.ImportRefused as refused:
        _tell_refused(refused)
        return _mapping_page(job, form, 422)
    if not checked_now:
        flash(_("The file is large: a worker checks it now. This page shows how far it got."),
              "info")
    return redirect(url_for("imports.show", job_id=job.id))


def _mapping_page(job: ImportJob, form: MappingForm, status: int = 200):
    editable = job.status in (services.ImportStatus.UPLOADED, services.ImportStatus.CHECKED,
                              services.ImportStatus.FAILED)
    samples = services.column_samples(job)
    return render_template("imports/mapping.html", job=job, form=form, samples=samples,
                           editable=editable), status


@bp.get("/<int:job_id>")
@role_required(*EDITOR_ROLES)
def show(job_id: int):
    job = _job(job_id)
    if job.status == services.ImportStatus.UPLOADED:
        return redirect(url_for("imports.mapping", job_id=job.id))
    shown = request.args.get("show", "")
    if shown not in REPORT_FILTERS:
        shown = "problems" if job.error_count or job.duplicate_count else "all"
    entries, next_row = services.report_page(job, REPORT_FILTERS[shown],
                                             after_row=request.args.get("after", type=int))
    return render_template(
        "imports/show.html", job=job, progress=services.job_progress(job), shown=shown,
        entries=entries, next_row=next_row, filters=REPORT_FILTERS,
        paged=request.args.get("after") is not None,
        status_labels=services.IMPORT_STATUS_LABELS, problem_text=problem_text,
        change_labels=services.change_labels, field_labels=FIELD_LABELS,
        stale_queue=services.is_stale_queue(job), failure_text=services.failure_text,
    )


@bp.get("/<int:job_id>/progress")
@role_required(*EDITOR_ROLES)
def progress(job_id: int):
    response = jsonify(services.job_progress(_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:job_id>/run")
@role_required(*EDITOR_ROLES)
def run(job_id: int):
    job = _job(job_id)  # CSRFProtect has checked the token of every POST
    try:
        services.request_run(get_session(), job, current_user)
    except services.ImportRefused as refused:
        _tell_refused(refused)
    else:
        flash(_("The import is running. You may leave this page; it goes on."), "success")
    return redirect(url_for("imports.show", job_id=job.id))


@bp.post("/<int:job_id>/rows/<int:row>/create-anyway")
@role_required(*EDITOR_ROLES)
def create_anyway(job_id: int, row: int):
    job = _job(job_id)
    try:
        services.create_anyway(get_session(), job, row, request.form.get("create") == "1",
                               current_user)
    except services.ImportRefused as refused:
        _tell_refused(refused)
    shown = request.form.get("show")
    after = request.form.get("after", type=int)
    return redirect(url_for("imports.show", job_id=job.id,
                            show=shown if shown in REPORT_FILTERS else None, after=after,
                            _anchor=f"row-{row}"))


@bp.post("/<int:job_id>/resend")
@role_required(*EDITOR_ROLES)
def resend(job_id: int):
    job = _job(job_id)
    try:
        services.resend(get_session(), job, current_user)
    except services.ImportRefused as refused:
        _tell_refused(refused)
    return redirect(url_for("imports.show", job_id=job.id))
