"""Find duplicates among existing startups, say a pair is not one, and merge two records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import FUNDING_STAGE_LABELS, LEAD_SOURCE_LABELS
from crm.core.errors import render_error
from crm.core.i18n import country_name
from crm.core.security import same_site_path
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.duplicates import queries
from crm.duplicates.forms import DismissForm, MergeForm
from crm.duplicates.matching import REASON_LABELS
from crm.duplicates.merge import (
    MERGE_FIELDS,
    MergeRefused,
    MergeStale,
    merge_preview,
    merge_startups,
    startup_values,
)
from crm.duplicates.services import dismiss_pair, may_merge
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup
from crm.startups.services import NotAllowed
from crm.users.access import EDITOR_ROLES
from crm.users.models import User

bp = Blueprint("duplicates", __name__, url_prefix="/duplicates")

REASON_TITLES = {"domain": _l("Same website"), "email": _l("Same contact email"),
                 "name": _l("Similar names")}
FIELD_LABELS = {
    "name": _l("Name"), "website": _l("Website"), "country": _l("Country"), "city": _l("City"),
    "founded_year": _l("Founded"), "team_size": _l("Team size"),
    "funding_stage": _l("Funding stage"), "description": _l("Description"),
    "source": _l("Source"), "source_detail": _l("Event or detail"), "owner_id": _l("Owner"),
}


@bp.get("/")
@login_required
def index():
    reason = request.args.get("reason")
    if reason in queries.REASONS:
        sections = queries.find_duplicate_pairs(
            get_session(), (reason,), after=request.args.get("after", type=int),
            size=queries.PAGE_GROUPS)
    else:
        reason = None
        sections = queries.find_duplicate_pairs(get_session())
    return render_template("duplicates/index.html", sections=sections, reason=reason,
                           reason_titles=REASON_TITLES, may_merge=may_merge,
                           form=DismissForm(formdata=None, next=request.full_path.rstrip("?")),
                           paged=request.args.get("after") is not None)


@bp.get("/startup/<int:startup_id>")
@login_required
def of_startup(startup_id: int):
    """One startup's probable duplicates, looked up when asked for (not on every page view)."""
    db = get_session()
    startup = get_or_404(Startup, startup_id)
    contacts = list(db.scalars(select(Contact).where(Contact.startup_id == startup.id)))
    here = url_for("duplicates.of_startup", startup_id=startup.id)
    return render_template("duplicates/of_startup.html", startup=startup,
                           candidates=queries.possible_duplicates_of(db, startup, contacts,
                                                                     limit=10),
                           reasons=REASON_LABELS, can_edit=can_edit_startup(current_user, startup),
                           may_merge=may_merge, form=DismissForm(formdata=None, next=here))


@bp.post("/dismiss")
@login_required
def dismiss():
    if not current_user.has_role(*EDITOR_ROLES):
        abort(403)
    form = DismissForm()
    back = same_site_path(form.next.data) or url_for("duplicates.index")
    if not form.validate_on_submit() or form.a.data == form.b.data:
        abandon_request_changes()
        flash(_("This form is incomplete. Reload the page and try again."), "error")
        return redirect(back)
    db = get_session()
    first, second = get_or_404(Startup, form.a.data), get_or_404(Startup, form.b.data)
    if not may_merge(current_user, first, second):
        abort(403)
    dismiss_pair(db, first, second, current_user)
    flash(_("Marked as different startups: %(first)s and %(second)s will not be offered as "
            "duplicates again.", first=first.name, second=second.name), "success")
    return redirect(back)


# Merge ----------------------------------------------------------------------------------------


@dataclass
class FieldRow:
    name: str
    label: str
    values: dict[str, Any]  # side -> stored value
    shown: dict[str, str]  # side -> what a person reads

    @property
    def differs(self) -> bool:
        return self.values["a"] != self.values["b"]


def _shown(name: str, value: Any, owners: dict[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if name == "owner_id":
        return owners.get(value, "—")
    if name == "country":
        return country_name(value)
    labels = {"funding_stage": FUNDING_STAGE_LABELS, "source": LEAD_SOURCE_LABELS}.get(name)
    if labels is not None:
        return str(labels.get(value, value))
    return str(value)


def _field_rows(db: Session, a: Startup, b: Startup) -> list[FieldRow]:
    values = {"a": startup_values(a), "b": startup_values(b)}
    owner_ids = {v["owner_id"] for v in values.values() if v["owner_id"] is not None}
    owners = ({row[0]: row[1] for row in db.execute(
        select(User.id, User.name).where(User.id.in_(owner_ids)))} if owner_ids else {})
    rows = []
    for name in MERGE_FIELDS:
        pair = {side: values[side][name] for side in values}
        rows.append(FieldRow(name, str(FIELD_LABELS[name]), pair,
                             {side: _shown(name, value, owners) for side, value in pair.items()}))
    return rows


def _default_picks(form: MergeForm, rows: list[FieldRow]) -> None:
    """Each differing field starts at the left value, or the right one where the left is empty."""
    for row in rows:
        if row.differs and form.pick(row.name).data not in ("a", "b"):
            form.pick(row.name).data = "b" if row.values["a"] in (None, "") else "a"


def _pair_from_args() -> tuple[Startup, Startup]:
    a_id, b_id = request.args.get("a", type=int), request.args.get("b", type=int)
    if a_id is None or b_id is None:
        abort(400)
    return get_or_404(Startup, a_id), get_or_404(Startup, b_id)


def _render_merge(db: Session, a: Startup, b: Startup, form: MergeForm, status: int = 200,
                  problem: str | None = None):
    rows = _field_rows(db, a, b)
    _default_picks(form, rows)
    return render_template("duplicates/merge.html", a=a, b=b, form=form, rows=rows,
                           preview=merge_preview(db, a, b), problem=problem), status


@bp.route("/merge", methods=["GET", "POST"])
@login_required
def merge():
    if not current_user.has_role(*EDITOR_ROLES):
        abort(403)
    db = get_session()
    if request.method == "GET":
        a, b = _pair_from_args()
        if a.id == b.id:
            return render_error(400, _("A startup cannot be merged with itself."))
        if not may_merge(current_user, a, b):
            abort(403)
        form = MergeForm(formdata=None, a=a.id, b=b.id, a_version=a.version,
                         b_version=b.version)
        return _render_merge(db, a, b, form)

    form = MergeForm()
    if form.a.data is None or form.b.data is None:
        form.validate()
        abandon_request_changes()
        return render_error(400, _("This form is incomplete. Reload the page and try again."))
    a, b = get_or_404(Startup, form.a.data), get_or_404(Startup, form.b.data)
    if a.id == b.id:
        return render_error(400, _("A startup cannot be merged with itself."))
    if not may_merge(current_user, a, b):
        abort(403)
    if not form.validate_on_submit():
        abandon_request_changes()
        flash(_("Please correct the marked fields."), "error")
        return _render_merge(db, a, b, form, status=422)
    sides = {"a": (a, form.a_version.data), "b": (b, form.b_version.data)}
    keep = form.survivor.data
    (survivor, survivor_version), (absorbed, absorbed_version) = (
        sides[keep], sides["b" if keep == "a" else "a"])
    chosen = {name: getattr(sides[side][0], name) for name, side in form.picks().items()}
    absorbed_name = absorbed.name
    try:
        merge_startups(db, survivor, absorbed, chosen, current_user,
                       survivor_version=survivor_version, absorbed_version=absorbed_version)
    except NotAllowed:
        abandon_request_changes()
        abort(403)
    except MergeStale as refused:
        abandon_request_changes()
        db.refresh(a)
        db.refresh(b)
        fresh = MergeForm(formdata=None, a=a.id, b=b.id, a_version=a.version,
                          b_version=b.version, survivor=keep)
        return _render_merge(db, a, b, fresh, status=409, problem=str(refused.message))
    except MergeRefused as refused:
        abandon_request_changes()
        return _render_merge(db, a, b, form, status=409, problem=str(refused.message))
    flash(_("Merged: everything of %(absorbed)s is now here, and its record is deleted.",
            absorbed=absorbed_name), "success")
    return redirect(url_for("startups.show", startup_id=survivor.id))
