"""The public application form: landing, steps, documents, resume links, submit, privacy.

The browser holds which draft it may edit in its signed session cookie (by programme), so no
application id or personal data ever appears in a URL; a resume link carries only a random
token, whose hash the database keeps.
"""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.core.enums import ApplicationStatus, Language, parse_enum
from crm.db import abandon_request_changes, get_session
from crm.documents.services import DocumentRejected
from crm.extensions import limiter
from crm.intake import drafts
from crm.intake.answers import answer_sections
from crm.intake.forms import (
    MAX_PEOPLE,
    ConsentForm,
    LinkRequestForm,
    StartForm,
    UploadForm,
    answers_of,
    step_form,
)
from crm.intake.models import Application
from crm.intake.steps import (
    COMPANY_PAPERS,
    PITCH_DECK,
    STEP_KEYS,
    STEPS,
    step_index,
)
from crm.intake.submission import CONSENT_VERSION, SubmissionRefused, submit
from crm.programmes.models import Programme
from crm.workflow.engine import current_version

bp = Blueprint("intake", __name__)

START_OR_RESUME = _l("Start your application, or open the link we emailed you to continue it.")
_DRAFTS = "intake_drafts"  # session: {programme key: application id} this browser may edit
_SUBMITTED = "intake_submitted"  # session: {programme key: application id} just submitted


def _intake_limit() -> str:
    return current_app.config["SETTINGS"].intake_rate_limit


def _locale() -> Language:
    return parse_enum(Language, str(get_locale())) or Language.EN


def _programme_or_404(key: str) -> Programme:
    programme = get_session().scalars(select(Programme).where(Programme.key == key)).first()
    if programme is None or drafts.intake_of(get_session(), programme) is None:
        abort(404)
    return programme


def _session_application(programme: Programme, store: str = _DRAFTS) -> Application | None:
    application_id = session.get(store, {}).get(programme.key)
    application = get_session().get(Application, application_id) if application_id else None
    if application is None or application.programme_id != programme.id:
        return None
    return application


def _draft(programme: Programme) -> Application | None:
    application = _session_application(programme)
    return application if application and application.status == ApplicationStatus.DRAFT else None


def _remember(store: str, programme: Programme, application: Application | None) -> None:
    held = dict(session.get(store, {}))
    if application is None:
        held.pop(programme.key, None)
    else:
        held[programme.key] = application.id
    session[store] = held


def _step_url(key: str, step: str) -> str:
    """Where a step lives: the question steps by key, documents and review on pages of their own."""
    if step == "documents":
        return url_for(".documents", key=key)
    if step == "consent":
        return url_for(".review", key=key)
    return url_for(".step", key=key, step=step)


def _context(programme: Programme, **extra):
    definition = current_version(get_session(), programme).parsed
    return {"programme": programme, "definition": definition, "intake": definition.intake,
            "steps": STEPS, "step_keys": STEP_KEYS, "step_url": _step_url,
            "max_people": MAX_PEOPLE, **extra}


# Landing ----------------------------------------------------------------------------------


@bp.get("/apply/")
def index():
    return render_template("intake/index.html", programmes=drafts.open_programmes(get_session()))


@bp.get("/apply/<key>")
def landing(key: str):
    programme = _programme_or_404(key)
    db = get_session()
    return render_template(
        "intake/landing.html", start_form=StartForm(), link_form=LinkRequestForm(),
        draft=_draft(programme),
        closed=drafts.closed_reason(programme, drafts.intake_of(db, programme)),
        **_context(programme))


@bp.post("/apply/<key>/start")
@limiter.limit(_intake_limit)
def start(key: str):
    programme = _programme_or_404(key)
    db = get_session()
    closed = drafts.closed_reason(programme, drafts.intake_of(db, programme))
    form = StartForm()
    if closed or not form.validate():
        return render_template("intake/landing.html", start_form=form,
                               link_form=LinkRequestForm(), draft=None, closed=closed,
                               **_context(programme)), 422
    if form.is_bot():
        return render_template("intake/link_sent.html", **_context(programme))
    application = drafts.start_application(db, programme, email=form.address(),
                                           locale=_locale())
    _remember(_DRAFTS, programme, application)
    flash(_l("We have sent you a link to continue your application on any device."), "info")
    return redirect(_step_url(key, application.step))


# Steps ------------------------------------------------------------------------------------


def with_draft(view):
    """The view gets the programme and the draft this browser holds; without a draft, the
    applicant is sent to the programme's page to start or resume."""

    @functools.wraps(view)
    def with_programme_and_draft(key: str, **arguments):
        programme = _programme_or_404(key)
        application = _draft(programme)
        if application is None:
            flash(START_OR_RESUME, "info")
            return redirect(url_for(".landing", key=key))
        return view(programme, application, **arguments)

    return with_programme_and_draft


@bp.route("/apply/<key>/<any(company, people, plans):step>", methods=["GET", "POST"])
@with_draft
def step(programme: Programme, application: Application, step: str):
    if step_index(step) > step_index(application.step):
        return redirect(_step_url(programme.key, application.step))
    db = get_session()
    context = _context(programme)
    saved = application.answers.get(step)
    form = step_form(step, context["intake"], context["definition"].focus_sectors,
                     data=saved if request.method == "GET" and saved else None)
    if request.method == "POST" and step == "people":
        changed = _change_people(form)
        if changed:
            return render_template("intake/step.html", form=form, application=application,
                                   step=step, **context)
    if request.method == "POST" and form.validate():
        drafts.save_step(db, application, step, answers_of(step, form), locale=_locale())
        return redirect(_step_url(programme.key, STEP_KEYS[step_index(step) + 1]))
    status = 422 if request.method == "POST" else 200
    return render_template("intake/step.html", form=form, application=application, step=step,
                           **context), status


def _change_people(form) -> bool:
    """Add or remove a person (buttons that change the form rather than save it)."""
    if "add_person" in request.form:
        if len(form.people) < MAX_PEOPLE:
            form.people.append_entry()
        return True
    remove = request.form.get("remove_person", type=int)
    if remove is not None and len(form.people) > 1 and 0 <= remove < len(form.people):
        kept = [entry.data for index, entry in enumerate(form.people) if index != remove]
        while len(form.people):
            form.people.pop_entry()
        for data in kept:
            form.people.append_entry(data)
        return True
    return False


@bp.route("/apply/<key>/documents", methods=["GET", "POST"])
@with_draft
def documents(programme: Programme, application: Application):
    if step_index("documents") > step_index(application.step):
        return redirect(_step_url(programme.key, application.step))
    db = get_session()
    problem = None
    if request.method == "POST":
        uploaded = drafts.documents_of(db, application.id)
        if any(document.kind == PITCH_DECK for document in uploaded):
            drafts.save_step(db, application, "documents", {}, locale=_locale())
            return redirect(url_for(".review", key=programme.key))
        problem = _l("Please upload your pitch deck as a PDF.")
    return _render_documents(programme, application, problem=problem,
                             status=422 if problem else 200)


def _render_documents(programme: Programme, application: Application, *, problem=None,
                      upload_errors: dict | None = None, status: int = 200):
    db = get_session()
    uploaded = drafts.documents_of(db, application.id)
    return render_template(
        "intake/documents.html", application=application, step="documents",
        pitch_decks=[document for document in uploaded if document.kind == PITCH_DECK],
        papers=[document for document in uploaded if document.kind == COMPANY_PAPERS],
        upload_form=UploadForm(formdata=None),
        problem=problem, upload_errors=upload_errors or {}, **_context(programme)), status


@bp.post("/apply/<key>/documents/upload")
@with_draft
def upload(programme: Programme, application: Application):
    form = UploadForm()
    kind = form.kind.data if form.kind.data in (PITCH_DECK, COMPANY_PAPERS) else None
    if not form.validate() or kind is None:
        abort(400)
    try:
        drafts.add_document(get_session(), application, kind, request.files.get("file"))
    except DocumentRejected as rejected:
        abandon_request_changes()
        return _render_documents(programme, application,
                                 upload_errors={kind: rejected.message}, status=422)
    flash(_l("The file is uploaded."), "success")
    return redirect(url_for(".documents", key=programme.key))


@bp.post("/apply/<key>/documents/<int:document_id>/remove")
@with_draft
def remove_upload(programme: Programme, application: Application, document_id: int):
    if not drafts.remove_document(get_session(), application, document_id):
        abort(404)
    flash(_l("The file is removed."), "success")
    return redirect(url_for(".documents", key=programme.key))


# Review and submit ------------------------------------------------------------------------


@bp.get("/apply/<key>/review")
@with_draft
def review(programme: Programme, application: Application):
    if application.step != "consent":
        return redirect(_step_url(programme.key, application.step))
    return _render_review(programme, application, ConsentForm())


def _render_review(programme: Programme, application: Application, form: ConsentForm,
                   *, problem=None, status: int = 200):
    context = _context(programme)
    return render_template(
        "intake/review.html", application=application, form=form, step="consent",
        sections=answer_sections(application, context["definition"], _locale().value),
        uploaded=drafts.documents_of(get_session(), application.id),
        closed=drafts.closed_reason(programme, context["intake"]), problem=problem,
        consent_version=CONSENT_VERSION, **context), status


@bp.post("/apply/<key>/submit")
@limiter.limit(_intake_limit)
def submit_application(key: str):
    programme = _programme_or_404(key)
    application = _session_application(programme)
    if application is None:
        flash(START_OR_RESUME, "info")
        return redirect(url_for(".landing", key=key))
    if application.status == ApplicationStatus.SUBMITTED:  # a double click or a retry
        return redirect(url_for(".done", key=key))
    form = ConsentForm()
    if application.status != ApplicationStatus.DRAFT:
        abort(404)
    if not form.validate():
        return _render_review(programme, application, form, status=422)
    if form.is_bot():
        return redirect(url_for(".done", key=key))
    try:
        submit(get_session(), application, programme)
    except SubmissionRefused as refused:
        abandon_request_changes()
        if refused.step:
            flash(refused.message, "error")
            return redirect(_step_url(key, refused.step))
        return _render_review(programme, get_session().get(Application, application.id), form,
                              problem=refused.message, status=409)
    _remember(_SUBMITTED, programme, application)
    return redirect(url_for(".done", key=key))


@bp.get("/apply/<key>/done")
def done(key: str):
    programme = _programme_or_404(key)
    application = _session_application(programme, _SUBMITTED) or _session_application(programme)
    if application is None or application.status != ApplicationStatus.SUBMITTED:
        return redirect(url_for(".landing", key=key))
    _remember(_DRAFTS, programme, None)
    return render_template("intake/done.html", application=application, **_context(programme))


# Links, withdrawal ------------------------------------------------------------------------


@bp.post("/apply/<key>/link")
@limiter.limit(_intake_limit)
@with_draft
def email_link(programme: Programme, application: Application):
    """Email a new link to the draft this browser holds ("continue later on another device")."""
    drafts.send_resume_link(get_session(), application, programme)
    flash(_l("We have emailed you a new link to continue your application."), "success")
    return redirect(_step_url(programme.key, application.step))


@bp.post("/apply/link")
@limiter.limit(_intake_limit)
def request_link():
    """A new link by address (after an expired or used one); the answer never says whether
    the address has applied."""
    form = LinkRequestForm()
    if not form.validate():
        return render_template("intake/link_expired.html", link_form=form), 422
    if not form.is_bot():
        drafts.send_link_to_address(get_session(), form.address())
    return render_template("intake/link_sent.html")


@bp.route("/apply/resume/<token>", methods=["GET", "POST"])
def resume(token: str):
    """A link from an email: a page with a button (mail scanners that open links do not use it
    up), whose POST opens the draft in this browser."""
    db = get_session()
    application = drafts.application_for_link(db, token)
    if application is None:
        return render_template("intake/link_expired.html", link_form=LinkRequestForm()), 410
    programme = db.get(Programme, application.programme_id)
    if request.method == "POST":
        drafts.redeem_link(db, application)
        _remember(_DRAFTS, programme, application)
        if application.locale in (Language.EN, Language.DE) and "locale" not in session:
            session["locale"] = application.locale
        return redirect(_step_url(programme.key, application.step))
    return render_template("intake/resume.html", application=application,
                           **_context(programme))


@bp.route("/apply/<key>/withdraw", methods=["GET", "POST"])
@with_draft
def withdraw(programme: Programme, application: Application):
    if request.method == "POST":
        drafts.withdraw(get_session(), application)
        _remember(_DRAFTS, programme, None)
        return render_template("intake/withdrawn.html", **_context(programme))
    return render_template("intake/withdraw.html", application=application,
                           **_context(programme))


@bp.get("/privacy")
def privacy():
    return render_template("intake/privacy.html", consent_version=CONSENT_VERSION)
