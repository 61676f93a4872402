"""Staff's side of the intake: the applications list, one application, invitations to apply."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import Session
from wtforms import IntegerField
from wtforms.validators import InputRequired

from crm.core.enums import ApplicationStatus, parse_enum
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.intake import invitations
from crm.intake.answers import answer_sections
from crm.intake.drafts import documents_of
from crm.intake.models import Application
from crm.intake.steps import STEPS
from crm.programmes.models import Programme
from crm.startups.access import editable_startup
from crm.startups.models import Contact, Startup
from crm.users.models import User
from crm.workflow.engine import current_version

bp = Blueprint("applications", __name__)

PAGE_SIZE = 50
STEP_TITLES = {step.key: step.title for step in STEPS}


def _locale() -> str:
    return str(get_locale() or "en")


# The list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationFilters:
    status: ApplicationStatus = ApplicationStatus.DRAFT
    programme: Programme | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], programmes: list[Programme]
                  ) -> ApplicationFilters:
        """Unknown values mean the default: unfinished applications of every programme."""
        by_key = {programme.key: programme for programme in programmes}
        return cls(parse_enum(ApplicationStatus, args.get("status")) or ApplicationStatus.DRAFT,
                   by_key.get(args.get("programme") or ""))

    def to_args(self) -> dict[str, str]:
        args = {"status": self.status.value}
        if self.programme is not None:
            args["programme"] = self.programme.key
        return args


@dataclass
class ApplicationRow:
    application: Application
    programme: Programme
    startup_name: str | None

    @property
    def company_name(self) -> str:
        return self.application.answer("company", "name") or "—"

    @property
    def step_title(self):
        return STEP_TITLES.get(self.application.step, self.application.step)


def encode_cursor(application: Application) -> str:
    raw = json.dumps([application.last_activity_at.isoformat(), application.id],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (last activity, id) a cursor carries; None (the first page) for anything else."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        moment, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(moment)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    if type(ident) is not int or at.tzinfo is None:
        return None
    return at, ident


def application_page(db: Session, filters: ApplicationFilters, after: str | None
                     ) -> tuple[list[ApplicationRow], str | None]:
    """One page, newest activity first, and the cursor of the next page (None: the last)."""
    size = PAGE_SIZE
    query = (select(Application, Programme, Startup.name)
             .join(Programme, Programme.id == Application.programme_id)
             .outerjoin(Startup, Startup.id == Application.startup_id)
             .where(Application.status == filters.status)
             .order_by(Application.last_activity_at.desc(), Application.id.desc())
             .limit(size + 1))
    if filters.programme is not None:
        query = query.where(Application.programme_id == filters.programme.id)
    start = decode_cursor(after)
    if start is not None:
        query = query.where(tuple_(Application.last_activity_at, Application.id)
                            < tuple_(literal(start[0], Application.last_activity_at.type),
                                     literal(start[1], Application.id.type)))
    found = [ApplicationRow(*row) for row in db.execute(query).all()]
    more = len(found) > size
    return found[:size], encode_cursor(found[size - 1].application) if more else None


@bp.get("/applications/")
@login_required
def index():
    db = get_session()
    programmes = list(db.scalars(select(Programme).order_by(Programme.name_en)))
    filters = ApplicationFilters.from_args(request.args, programmes)
    rows, next_cursor = application_page(db, filters, request.args.get("after"))
    return render_template(
        "applications/index.html", rows=rows, next_cursor=next_cursor, filters=filters,
        programmes=programmes, statuses=list(ApplicationStatus),
        paged=bool(request.args.get("after")), locale=_locale())


# One application -----------------------------------------------------------------------------


@bp.get("/applications/<int:application_id>")
@login_required
def show(application_id: int):
    db = get_session()
    application = get_or_404(Application, application_id)
    invited_by, owner = aliased(User), aliased(User)
    programme, startup_name, invited_by_name, owner_name = db.execute(
        select(Programme, Startup.name, invited_by.name, owner.name)
        .select_from(Application)
        .join(Programme, Programme.id == Application.programme_id)
        .outerjoin(Startup, Startup.id == Application.startup_id)
        .outerjoin(invited_by, invited_by.id == Application.invited_by_id)
        .outerjoin(owner, owner.id == Application.assigned_owner_id)
        .where(Application.id == application.id)).one()
    definition = current_version(db, programme).parsed if programme.current_version else None
    locale = _locale()
    return render_template(
        "applications/show.html", application=application, programme=programme,
        sections=answer_sections(application, definition, locale),
        documents=documents_of(db, application.id), startup_name=startup_name,
        invited_by_name=invited_by_name, owner_name=owner_name,
        step_title=STEP_TITLES.get(application.step, application.step), locale=locale)


# Invitations -------------------------------------------------------------------------------


class InviteForm(FlaskForm):
    programme = IntegerField(validators=[InputRequired()])
    contact = IntegerField(validators=[InputRequired()])


@bp.post("/startups/<int:startup_id>/invite")
@login_required
def invite(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    form = InviteForm()
    back = redirect(url_for("startups.show", startup_id=startup.id, _anchor="applications"))
    programme = db.get(Programme, form.programme.data) if form.validate_on_submit() else None
    contact = db.get(Contact, form.contact.data) if programme else None
    if programme is None or contact is None:
        flash(_("Choose a programme and a contact."), "error")
        return back
    try:
        invitations.invite(db, startup, programme, contact, current_user)
    except invitations.InvitationRefused as refusal:
        abandon_request_changes()
        flash(str(refusal.message), "error")
        return back
    flash(_("%(name)s was invited to apply to %(programme)s.", name=contact.name,
            programme=programme.name(_locale())), "success")
    return back


@bp.app_template_global("startup_applications")
def startup_applications(startup_id: int) -> invitations.StartupApplications:
    """The startup page's unfinished applications and the programmes to invite it to."""
    return invitations.startup_applications(get_session(), startup_id)
