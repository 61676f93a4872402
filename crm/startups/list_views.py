"""The startups list page and what it posts: saved views, bulk actions, exports of a view."""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import format_number, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlmodel import Session
from wtforms import SelectChoice

from crm.core.enums import LeadSource, Role, StartupStatus
from crm.core.i18n import country_name
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.exports import services as exports
from crm.startups import bulk, listing, saved_views
from crm.startups.list_forms import (
    BulkForm,
    DeleteViewForm,
    ExportForm,
    SaveViewForm,
    clean_tag,
)
from crm.startups.listing import QUERY_MAX, SORTS, ListView
from crm.startups.models import SavedView
from crm.users.models import User

bp = Blueprint("startup_list", __name__, url_prefix="/startups")


def render_list(args: Mapping[str, str], *, save_form: SaveViewForm | None = None,
                bulk_form: BulkForm | None = None, status: int = 200):
    """The list page for these URL args; forms given come back with their errors."""
    db = get_session()
    view = ListView.from_args(args)
    locale = str(get_locale() or "en")
    options = listing.list_options(db)
    page = listing.list_startups(db, view, current_user.id, after=args.get("after"),
                                 locale=locale, definitions=options.definitions)
    query = view.query_string()
    may_bulk = bulk.may_act_in_bulk(current_user)
    if may_bulk:
        if bulk_form is None:
            bulk_form = BulkForm(formdata=None, view=query, after=args.get("after") or "")
        bulk_form.page_ids.data = ",".join(str(row.startup.id) for row in page.rows)
        _owner_choices(bulk_form, _assignable(options.owners))
    if save_form is None:
        save_form = SaveViewForm(formdata=None, view=query)
    saved = saved_views.views_of(db, current_user.id)
    return render_template(
        "startups/index.html", page=page, view=view, options=options, locale=locale,
        filters=view.filters, sorts=SORTS, statuses=list(StartupStatus),
        sources=list(LeadSource), saved_views=saved, current_query=query,
        save_form=save_form, delete_form=DeleteViewForm(formdata=None, view=query),
        bulk_form=bulk_form if may_bulk else None,
        selected=set(bulk_form.ids.data or []) if may_bulk else set(),
        country_choices=sorted(options.countries, key=country_name),
        current_after=args.get("after"), format_number=format_number,
    ), status


def _assignable(staff: list[User]) -> list[User]:
    """Among the staff the list already loaded, whom the current user may assign to."""
    if current_user.has_role(Role.ADMIN, Role.MANAGER):
        return [user for user in staff if user.is_active and user.has_role(*bulk.EDITOR_ROLES)]
    return [current_user._get_current_object()]


def _owner_choices(form: BulkForm, users: list[User]) -> None:
    form.owner.choices = [SelectChoice("", _("Choose…")),
                          *(SelectChoice(str(user.id), user.name) for user in users)]


def _list_args(query: str | None, after: str | None = None) -> dict[str, str]:
    """The list's args from a posted query string, re-read so only known filters remain."""
    args = ListView.from_query(query or "").to_args()
    if after:
        args["after"] = after
    return args


def _back_to_list(query: str | None, after: str | None = None):
    return redirect(url_for("startups.index", **_list_args(query, after)))


def _refused(form_args: dict[str, str], **forms):
    """Nothing half-written stays; the list comes back with the form, its errors and input."""
    abandon_request_changes()
    flash(_("Please correct the marked fields."), "error")
    return render_list(form_args, status=422, **forms)


def _incomplete(query: str | None):
    """A form without its token or hidden fields (an old page): nothing done, back to the list."""
    abandon_request_changes()
    flash(_("This form is incomplete. Reload the page and try again."), "error")
    return _back_to_list(query)


# Saved views -----------------------------------------------------------------------------------


@bp.post("/views")
@login_required
def save_view():
    db = get_session()
    form = SaveViewForm()
    args = _list_args(form.view.data)
    if not form.validate_on_submit():
        return _refused(args, save_form=form)
    view = ListView.from_args(args)
    if len(view.query_string()) > QUERY_MAX:
        form.name.errors.append(_("This view has too many filters to be saved."))
        return _refused(args, save_form=form)
    try:
        saved = saved_views.save_view(db, current_user, form.name.data, view)
    except saved_views.NameTaken:
        form.name.errors.append(_("You already have a view with this name."))
        return _refused(args, save_form=form)
    flash(_("View “%(name)s” saved.", name=saved.name), "success")
    return _back_to_list(saved.query)


@bp.post("/views/<int:view_id>/delete")
@login_required
def delete_view(view_id: int):
    saved = get_or_404(SavedView, view_id)
    if saved.user_id != current_user.id:
        abort(404)  # someone else's views are not there for this user
    form = DeleteViewForm()
    if not form.validate_on_submit():
        return _incomplete(form.view.data)
    name = saved.name
    saved_views.delete_view(get_session(), current_user, saved)
    flash(_("View “%(name)s” deleted.", name=name), "success")
    return _back_to_list(form.view.data)


# Bulk actions ----------------------------------------------------------------------------------


def _posted_bulk(db: Session) -> tuple[BulkForm, dict[str, str], list[int] | None]:
    """The posted bulk form (editors only: viewers get 403), the list args it was posted from,
    and its selection if the form is sound and names at least one row (else None)."""
    if not bulk.may_act_in_bulk(current_user):
        abort(403)
    form = BulkForm()
    _owner_choices(form, bulk.owner_choices(db, current_user))
    return form, _list_args(form.view.data, form.after.data), _checked_selection(form)


def _checked_selection(form: BulkForm) -> list[int] | None:
    """The selected ids if the form is sound and names at least one row; else None."""
    if not form.validate_on_submit():
        return None
    ids = form.selected_ids()
    if not ids:
        form.ids.errors = [_("Select at least one startup.")]
        return None
    return ids


def _flash_outcome(outcome: bulk.BulkOutcome, unchanged_message: str) -> None:
    """E.g. "3 of 5 updated; 2 belong to another BD manager (Acme, Beta)."."""
    parts = [_("%(changed)d of %(total)d updated", changed=len(outcome.changed),
               total=outcome.requested)]
    if outcome.refused:
        names = ", ".join(startup.name for startup in outcome.refused[:5])
        if len(outcome.refused) > 5:
            names += ", …"
        parts.append(ngettext("%(num)d belongs to another BD manager (%(names)s)",
                              "%(num)d belong to another BD manager (%(names)s)",
                              len(outcome.refused), names=names))
    if outcome.unchanged:
        parts.append(unchanged_message)
    if outcome.missing:
        parts.append(ngettext("%(num)d no longer exists", "%(num)d no longer exist",
                              outcome.missing))
    flash("; ".join(parts) + ".", "error" if outcome.refused or outcome.missing else "success")


@bp.post("/bulk/assign")
@login_required
def bulk_assign():
    db = get_session()
    form, args, ids = _posted_bulk(db)
    choices = {choice.value for choice in form.owner.choices if choice.value}
    new_owner = None
    if form.owner.data in choices:
        new_owner = db.get(User, int(form.owner.data))
    else:
        form.owner.errors = [*form.owner.errors, _("Choose the new owner.")]
    if ids is None or new_owner is None:
        return _refused(args, bulk_form=form)
    try:
        outcome = bulk.assign_owner(db, current_user, ids, new_owner)
    except bulk.InvalidOwner:
        form.owner.errors = [_("You may not assign startups to this person.")]
        return _refused(args, bulk_form=form)
    _flash_outcome(outcome, ngettext("%(num)d already had this owner",
                                     "%(num)d already had this owner",
                                     len(outcome.unchanged)))
    return _back_to_list(form.view.data, form.after.data)


@bp.post("/bulk/tag")
@login_required
def bulk_tag():
    db = get_session()
    form, args, ids = _posted_bulk(db)
    tag = clean_tag(form.tag.data)
    if not tag and not form.tag.errors:
        form.tag.errors = [*form.tag.errors, _("Type the tag to add.")]
    if ids is None or form.tag.errors:
        return _refused(args, bulk_form=form)
    outcome = bulk.add_tag(db, current_user, ids, tag)
    _flash_outcome(outcome, ngettext("%(num)d already had this tag",
                                     "%(num)d already had this tag", len(outcome.unchanged)))
    return _back_to_list(form.view.data, form.after.data)


@bp.post("/bulk/export")
@login_required
def bulk_export():
    db = get_session()
    form, args, ids = _posted_bulk(db)
    if form.format.data not in exports.FORMATS:
        form.format.errors = [_("Choose CSV or XLSX.")]
    if ids is None or form.format.errors:
        return _refused(args, bulk_form=form)
    view = ListView.from_args(args)
    return _send(exports.export_inline(db, current_user, view, form.format.data, ids=ids))


# Export of a whole view ------------------------------------------------------------------------


@bp.post("/export")
@login_required
def export_view():
    """Any signed-in user may export what the list shows them (viewers too: read access)."""
    db = get_session()
    form = ExportForm()
    args = _list_args(form.view.data)
    if not form.validate_on_submit():
        return _incomplete(form.view.data)
    view = ListView.from_args(args)
    if exports.too_large_for_request(db, view, current_user.id):
        job = exports.request_export(db, current_user, view, form.format.data)
        flash(_("This export is large: it is being written in the background."), "success")
        return redirect(url_for("exports.show", job_id=job.id))
    return _send(exports.export_inline(db, current_user, view, form.format.data))


def _send(export: exports.InlineExport):
    return send_file(BytesIO(export.content), mimetype=export.mimetype, as_attachment=True,
                     download_name=export.filename, max_age=0, etag=False, conditional=False)
