"""Pages of the GDPR tools: a startup's data-protection page (export, restriction, erasure,
consent, document downloads), the public consent-withdrawal link and the retention log.

Who may: managers and admins export, restrict and erase (the data of a startup is the desk's,
not one BD manager's, and erasure cannot be undone); whoever may edit the startup records a
withdrawal of consent, even while it is restricted; admins read the retention log; anyone with
a withdrawal link withdraws what it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.clock import utcnow
from crm.core.enums import ApplicationStatus, Role
from crm.core.uploads import content_disposition
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.documents.models import Document
from crm.extensions import limiter
from crm.gdpr import consent, erasure, export, restriction, retention
from crm.gdpr.forms import ConfirmForm, EraseForm, RestrictForm
from crm.gdpr.models import ConsentRecord, ConsentSource
from crm.intake import drafts
from crm.intake.forms import LinkRequestForm
from crm.intake.models import Application
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup
from crm.users.access import role_required
from crm.users.models import User

bp = Blueprint("gdpr", __name__)

CONTACT_CONFIRMATION = "ERASE"
MANAGERS = (Role.ADMIN, Role.MANAGER)


def _managed_startup(startup_id: int) -> Startup:
    startup = get_or_404(Startup, startup_id)
    if not current_user.has_role(*MANAGERS):
        abort(403)
    return startup


def _contact_of(startup: Startup, contact_id: int) -> Contact:
    contact = get_or_404(Contact, contact_id)
    if contact.startup_id != startup.id:
        abort(404)
    return contact


def _back(startup: Startup):
    return redirect(url_for("gdpr.startup_privacy", startup_id=startup.id))


# The page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    at: datetime
    user_name: str | None
    document_id: int
    filename: str


def document_downloads(db: Session, startup_id: int, limit: int = 100) -> list[Download]:
    """Who downloaded which of the startup's documents when, newest first (audit events)."""
    rows = db.execute(
        select(AuditEvent.occurred_at, User.name, Document.id, Document.filename)
        .join(Document, Document.id == AuditEvent.object_id)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(AuditEvent.action == "document.downloaded", AuditEvent.object_type == "document",
               Document.startup_id == startup_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)).all()
    return [Download(*row) for row in rows]


@bp.app_template_global("startup_document_downloads")
def startup_document_downloads(startup_id: int) -> list[Download] | None:
    """For the startup's page: the download log, to managers and admins only (None to others)."""
    if not current_user.has_role(*MANAGERS):
        return None
    return document_downloads(get_session(), startup_id, limit=20)


def _render_page(startup: Startup, restrict_form: RestrictForm | None = None, status=200):
    db = get_session()
    contacts = list(db.scalars(select(Contact).where(Contact.startup_id == startup.id)
                               .order_by(Contact.id)))
    records = list(db.scalars(select(ConsentRecord).where(
        ConsentRecord.contact_id.in_([contact.id for contact in contacts]))
        .order_by(ConsentRecord.given_at, ConsentRecord.id)))
    return render_template(
        "gdpr/startup.html", startup=startup, contacts=contacts,
        consents={contact.id: [record for record in records if record.contact_id == contact.id]
                  for contact in contacts},
        restrict_form=restrict_form or RestrictForm(formdata=None), confirm_form=ConfirmForm(),
        downloads=document_downloads(db, startup.id)), status


@bp.get("/startups/<int:startup_id>/privacy")
@login_required
def startup_privacy(startup_id: int):
    return _render_page(_managed_startup(startup_id))


# Export ---------------------------------------------------------------------------------


def _send_zip(archive, kind: str, ident: int, now: datetime):
    response = send_file(archive, mimetype="application/zip", conditional=False, etag=False)
    response.headers["Content-Disposition"] = content_disposition(
        export.archive_name(kind, ident, now))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/startups/<int:startup_id>/privacy/export")
@login_required
def export_startup(startup_id: int):
    startup = _managed_startup(startup_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    now = utcnow()
    return _send_zip(export.startup_export(get_session(), startup, current_user.id, now),
                     "startup", startup.id, now)


@bp.post("/startups/<int:startup_id>/contacts/<int:contact_id>/privacy/export")
@login_required
def export_contact(startup_id: int, contact_id: int):
    contact = _contact_of(_managed_startup(startup_id), contact_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    now = utcnow()
    return _send_zip(export.contact_export(get_session(), contact, current_user.id, now),
                     "contact", contact.id, now)


# Restriction ----------------------------------------------------------------------------


@bp.post("/startups/<int:startup_id>/privacy/restrict")
@bp.post("/startups/<int:startup_id>/contacts/<int:contact_id>/privacy/restrict")
@login_required
def restrict(startup_id: int, contact_id: int | None = None):
    startup = _managed_startup(startup_id)
    record = _contact_of(startup, contact_id) if contact_id else startup
    form = RestrictForm()
    if not form.validate_on_submit():
        return _render_page(startup, form, status=422)
    restriction.restrict(get_session(), record, form.reason.data.strip(), current_user.id,
                         utcnow())
    flash(_("Processing is restricted: the data is kept, but not changed or used."), "success")
    return _back(startup)


@bp.post("/startups/<int:startup_id>/privacy/lift")
@bp.post("/startups/<int:startup_id>/contacts/<int:contact_id>/privacy/lift")
@login_required
def lift_restriction(startup_id: int, contact_id: int | None = None):
    startup = _managed_startup(startup_id)
    record = _contact_of(startup, contact_id) if contact_id else startup
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if restriction.lift(get_session(), record, current_user.id):
        flash(_("The restriction is lifted."), "success")
    return _back(startup)


# Erasure --------------------------------------------------------------------------------


@bp.route("/startups/<int:startup_id>/privacy/erase", methods=["GET", "POST"])
@bp.route("/startups/<int:startup_id>/contacts/<int:contact_id>/privacy/erase",
          methods=["GET", "POST"])
@login_required
def erase(startup_id: int, contact_id: int | None = None):
    startup = _managed_startup(startup_id)
    contact = _contact_of(startup, contact_id) if contact_id else None
    expected = CONTACT_CONFIRMATION if contact else startup.name
    form = EraseForm(expected)
    page = {"startup": startup, "contact": contact, "form": form, "expected": expected}
    if not form.validate_on_submit():
        return render_template("gdpr/erase.html", **page), 422 if form.is_submitted() else 200
    db = get_session()
    try:
        if contact:
            erasure.erase_contact(db, contact, current_user.id, utcnow())
        else:
            erasure.erase_startup(db, startup, current_user.id, utcnow())
    except erasure.ErasureRefused as refused:
        abandon_request_changes()
        form.confirmation.errors.append(str(refused.message))
        return render_template("gdpr/erase.html", **page), 409
    flash(_("Erased. The anonymous pipeline history is kept for statistics."), "success")
    return redirect(url_for("startups.show", startup_id=startup.id))


# Consent --------------------------------------------------------------------------------


@bp.route("/startups/<int:startup_id>/contacts/<int:contact_id>/consent/withdraw",
          methods=["GET", "POST"])
@login_required
def withdraw_consent(startup_id: int, contact_id: int):
    startup = get_or_404(Startup, startup_id)
    if not can_edit_startup(current_user, startup, even_restricted=True):
        abort(403)
    contact = _contact_of(startup, contact_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("gdpr/withdraw_consent.html", startup=startup, contact=contact,
                               form=form)
    if consent.withdraw_for_contact(get_session(), contact, ConsentSource.STAFF, utcnow(),
                                    current_user.id):
        flash(_("The withdrawal of consent is recorded: no more emails relying on it go to "
                "this contact."), "success")
    else:
        flash(_("This contact has no consent in force to withdraw."), "info")
    return redirect(url_for("startups.show", startup_id=startup.id, _anchor="contacts"))


@bp.route("/privacy/withdraw", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SETTINGS"].intake_rate_limit, methods=["POST"])
def request_withdrawal_link():
    """From the intake pages: the withdrawal link by email, for whoever lost theirs."""
    form = LinkRequestForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("gdpr/request_link.html", form=form), status
    if not form.is_bot():
        consent.send_withdrawal_links(get_session(), form.address(), utcnow())
    return render_template("gdpr/request_link.html", form=None)


@bp.route("/privacy/withdraw/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SETTINGS"].intake_rate_limit, methods=["POST"])
def withdraw_by_link(token: str):
    db = get_session()
    subject = consent.subject_of_token(db, token)
    if subject is None:
        abort(404)
    form = ConfirmForm()
    draft = isinstance(subject, Application) and subject.status == ApplicationStatus.DRAFT
    if not form.validate_on_submit():
        return render_template("gdpr/withdraw_link.html", form=form, draft=draft,
                               token=token)
    now = utcnow()
    if draft:
        drafts.withdraw(db, subject, now)
    elif not (isinstance(subject, Application) and subject.status
              == ApplicationStatus.WITHDRAWN):
        consent.withdraw_by_link(db, subject, now)
    return render_template("gdpr/withdrawn_link.html", draft=draft)


# Retention log --------------------------------------------------------------------------


@bp.get("/admin/retention")
@role_required(Role.ADMIN)
def retention_runs():
    return render_template("gdpr/retention.html", runs=retention.recent_runs(get_session()),
                           settings=current_app.config["SETTINGS"])
