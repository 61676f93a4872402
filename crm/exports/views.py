"""A background export's page (status, progress, download) for the user who asked for it."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from crm.core.clock import utcnow
from crm.core.enums import ExportStatus
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.exports import services
from crm.exports.models import ExportJob
from crm.startups.listing import ListView

bp = Blueprint("exports", __name__, url_prefix="/exports")


class SendAgainForm(FlaskForm):
    """Only the CSRF token: the job is in the URL."""


def _own_job(job_id: int) -> ExportJob:
    """The job if it is the current user's: 404 if there is none, 403 if someone else's."""
    job = get_or_404(ExportJob, job_id)
    if job.user_id != current_user.id:
        abort(403)
    return job


@bp.get("/<int:job_id>")
@login_required
def show(job_id: int):
    job = _own_job(job_id)
    path = services.path_of(job)
    ready = job.status == ExportStatus.DONE and path is not None and path.is_file()
    return render_template("exports/show.html", job=job, ready=ready, format_number=format_number,
                           status_labels=services.EXPORT_STATUS_LABELS,
                           send_again_form=SendAgainForm(formdata=None)
                           if services.may_send_again(job, utcnow()) else None,
                           view_args=ListView.from_query(job.query).to_args())


@bp.get("/<int:job_id>/download")
@login_required
def download(job_id: int):
    job = _own_job(job_id)
    path = services.path_of(job)
    if job.status != ExportStatus.DONE or path is None or not path.is_file():
        abort(404)
    services.record_download(get_session(), job, current_user.id)
    name = services.export_filename(job.file_format, job.finished_at or job.created_at,
                                    current_app.config["SETTINGS"].tz)
    return send_file(path, mimetype=services.FORMATS[job.file_format][0], as_attachment=True,
                     download_name=name, conditional=False, etag=False, max_age=0)


@bp.post("/<int:job_id>/send-again")
@login_required
def send_again(job_id: int):
    job = _own_job(job_id)
    form = SendAgainForm()
    if not form.validate_on_submit() or not services.may_send_again(job, utcnow()):
        abandon_request_changes()
        flash(_("This export is under way already."), "error")
        return redirect(url_for("exports.show", job_id=job.id))
    services.send_again(get_session(), job, current_user.id)
    flash(_("The export was sent to a worker again."), "success")
    return redirect(url_for("exports.show", job_id=job.id))
