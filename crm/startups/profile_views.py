"""Pages to create a startup, edit its profile and contacts, and read its change history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm.core.enums import (
    ACTIVITY_KIND_LABELS,
    FUNDING_STAGE_LABELS,
    LANGUAGE_LABELS,
    LEAD_SOURCE_LABELS,
    STARTUP_STATUS_LABELS,
    Role,
)
from crm.core.i18n import country_name
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.duplicates.matching import REASON_LABELS
from crm.startups import profile
from crm.startups.access import editable_startup
from crm.startups.models import Contact, Startup
from crm.startups.profile import (
    ChangeRecord,
    PossibleDuplicates,
    StaleRecord,
    can_create_startup,
    can_view_history,
)
from crm.startups.profile_forms import (
    ContactForm,
    NewStartupForm,
    RemoveContactForm,
    StartupEditForm,
)

bp = Blueprint("profile", __name__)

#: How many changes the startup's page shows before linking to the full history.
PANEL_HISTORY = 10

FIELD_LABELS = {
    "name": _l("Name"), "website": _l("Website"), "domain": _l("Domain"),
    "country": _l("Country"), "city": _l("City"), "founded_year": _l("Founded"),
    "team_size": _l("Team size"), "funding_stage": _l("Funding stage"),
    "description": _l("Description"), "sectors": _l("Sectors"), "tags": _l("Tags"),
    "source": _l("Source"), "source_detail": _l("Event or detail"), "owner_id": _l("Owner"),
    "status": _l("Status"), "email": _l("Email"), "phone": _l("Phone"), "role": _l("Role"),
    "language": _l("Language"),
}
ACTION_LABELS = {
    "startup.created": _l("Startup created"),
    "startup.updated": _l("Profile changed"),
    "startup.status_changed": _l("Status changed"),
    "contact.added": _l("Contact added"),
    "contact.updated": _l("Contact changed"),
    "contact.removed": _l("Contact removed"),
    "activity.logged": _l("Activity logged"),
    "startup.merged": _l("Merged with another record"),
    "startup.merged_into": _l("Merged into another record"),
    "startup.imported": _l("Imported"),
    "duplicates.dismissed": _l("Marked as not a duplicate"),
    "enrollment.enrolled": _l("Enrolled"),
    "enrollment.moved": _l("Stage changed"),
    "enrollment.field_set": _l("Programme answer set"),
    "checklist.settled": _l("Checklist item settled"),
    "document.uploaded": _l("Document uploaded"),
    "document.downloaded": _l("Document downloaded"),
    "task.created": _l("Task created"),
    "task.completed": _l("Task done"),
    "task.reopened": _l("Task reopened"),
    "task.snoozed": _l("Task snoozed"),
    "task.reassigned": _l("Task reassigned"),
}
_VALUE_LABELS = {"funding_stage": FUNDING_STAGE_LABELS, "source": LEAD_SOURCE_LABELS,
                 "status": STARTUP_STATUS_LABELS, "language": LANGUAGE_LABELS}
LONG_TEXT = 300


# Showing values and changes -------------------------------------------------------------------


def show_value(name: str, value: Any, owner_name: str | None = None) -> str:
    """A stored value as a person reads it, in their language ("—" for nothing)."""
    if value is None or value == "" or value == []:
        return "—"
    if name == "owner_id":
        return owner_name or _("User #%(id)s", id=value)
    if name == "country":
        return country_name(value)
    if name in _VALUE_LABELS:
        return str(_VALUE_LABELS[name].get(value, value))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = str(value)
    return text if len(text) <= LONG_TEXT else text[:LONG_TEXT - 1] + "…"


@dataclass
class ShownChange:
    label: str
    before: str
    after: str


@dataclass
class HistoryEntry:
    record: ChangeRecord
    title: str
    subject: str | None = None  # e.g. the contact's name
    changes: list[ShownChange] = field(default_factory=list)


def _shown_changes(changes: dict[str, Any], owner_names: list | None) -> list[ShownChange]:
    shown = []
    names = owner_names or [None, None]
    for name, pair in changes.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        before, after = pair
        shown.append(ShownChange(str(FIELD_LABELS.get(name, name)),
                                 show_value(name, before, names[0]),
                                 show_value(name, after, names[1])))
    return shown


def history_entry(record: ChangeRecord) -> HistoryEntry:
    """One audit event as the history shows it: what happened and each field's before → after."""
    event = record.event
    details = event.details or {}
    entry = HistoryEntry(record, str(ACTION_LABELS.get(event.action, event.action)),
                         details.get("contact"))
    if event.action == "startup.created":
        values = details.get("values") or {}
        entry.changes = _shown_changes({name: [None, value] for name, value in values.items()
                                        if value not in (None, "", [])},
                                       details.get("owner_names"))
    elif isinstance(details.get("changes"), dict):
        entry.changes = _shown_changes(details["changes"], details.get("owner_names"))
    elif "before" in details or "after" in details:
        name = "status" if event.action == "startup.status_changed" else "value"
        entry.changes = _shown_changes({name: [details.get("before"), details.get("after")]},
                                       None)
    elif event.action == "activity.logged" and details.get("kind") in ACTIVITY_KIND_LABELS:
        entry.subject = str(ACTIVITY_KIND_LABELS[details["kind"]])
    return entry


@bp.app_template_global("startup_change_history")
def startup_change_history(startup_id: int) -> dict | None:
    """The newest changes for the history panel of the startup page; None if not to be seen."""
    if not can_view_history(current_user):
        return None
    history = profile.change_history(get_session(), startup_id, limit=PANEL_HISTORY)
    return {"entries": [history_entry(record) for record in history.records],
            "more": history.older_than is not None}


# New startup ----------------------------------------------------------------------------------




def _render_new(form: NewStartupForm, duplicates=None, status: int = 200):
    return render_template("startups/new.html", form=form, duplicates=duplicates or [],
                           duplicate_reasons=REASON_LABELS), status


@bp.route("/startups/new", methods=["GET", "POST"])
@login_required
def new():
    if not can_create_startup(current_user):
        abort(403)
    db = get_session()
    defaults = {"owner": current_user.id if current_user.has_role(Role.BD_MANAGER) else None,
                "source": "other", "contact_language": current_user.locale}
    form = NewStartupForm(data=defaults)
    form.set_choices(profile.owner_choices(db, current_user, None, creating=True))
    if not form.is_submitted():
        return _render_new(form)
    if not form.validate():
        flash(_("Please correct the marked fields."), "error")
        return _render_new(form, status=422)
    try:
        startup = profile.create_startup(db, form.profile_values(), current_user,
                                         contact=form.contact_values(),
                                         allow_duplicates=bool(form.create_anyway.data))
    except PossibleDuplicates as found:
        abandon_request_changes()
        form.create_anyway.data = False
        return _render_new(form, duplicates=found.candidates)
    flash(_("Startup created."), "success")
    return redirect(url_for("startups.show", startup_id=startup.id))


# Edit the profile -----------------------------------------------------------------------------


@bp.route("/startups/<int:startup_id>/edit", methods=["GET", "POST"])
@login_required
def edit(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    stored = profile.profile_values(db, startup)
    form = StartupEditForm(data={**StartupEditForm.data_from(stored),
                                 "version": str(startup.version)})
    form.set_choices(profile.owner_choices(db, current_user, startup.owner_id), startup.country)
    if not form.is_submitted():
        return _render_edit(startup, form)
    if not form.validate():
        flash(_("Please correct the marked fields."), "error")
        return _render_edit(startup, form, status=422)
    typed = form.profile_values()
    try:
        changed = profile.update_profile(db, startup, typed, form.expected_version(),
                                         current_user)
    except StaleRecord as stale:
        abandon_request_changes()
        # Their values are shown next to the user's; saving again now overwrites on purpose.
        form.version.data = str(stale.version)
        return _render_edit(startup, form, conflicts=_conflicts(stale.current, typed), status=409)
    flash(_("Profile saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("startups.show", startup_id=startup.id))


def _conflicts(theirs: dict[str, Any], typed: dict[str, Any]) -> list[ShownChange]:
    """Each field where the saved value differs from what the user typed: (label, theirs, yours)."""
    mine = {name: profile.normalised_profile_value(name, value) for name, value in typed.items()}
    owners = {user.id: user.name for user in profile.owner_choices(
        get_session(), current_user, theirs.get("owner_id")) if user is not None}
    return [ShownChange(str(FIELD_LABELS.get(name, name)),
                        show_value(name, theirs.get(name), owners.get(theirs.get(name))),
                        show_value(name, value, owners.get(value)))
            for name, value in mine.items() if theirs.get(name) != value]


def _render_edit(startup: Startup, form: StartupEditForm, conflicts=None, status: int = 200):
    return render_template("startups/edit.html", startup=startup, form=form,
                           conflicts=conflicts), status


# Contacts -------------------------------------------------------------------------------------


def _contact_of(startup: Startup, contact_id: int) -> Contact:
    contact = get_or_404(Contact, contact_id)
    if contact.startup_id != startup.id:
        abort(404)
    if contact.restricted_at is not None:  # GDPR Art. 18: kept as it is
        flash(_("Processing of this contact is restricted: it cannot be changed until the "
                "restriction is lifted."), "error")
        abort(_back_to_contacts(startup))
    return contact


def _back_to_contacts(startup: Startup):
    return redirect(url_for("startups.show", startup_id=startup.id, _anchor="contacts"))


def _render_contact(startup: Startup, form: ContactForm, contact: Contact | None = None,
                    conflicts=None, status: int = 200):
    return render_template("startups/contact_form.html", startup=startup, form=form,
                           contact=contact, conflicts=conflicts), status


@bp.route("/startups/<int:startup_id>/contacts/new", methods=["GET", "POST"])
@login_required
def add_contact(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    form = ContactForm(data={"language": current_user.locale})
    if not form.is_submitted():
        return _render_contact(startup, form)
    if not form.validate():
        flash(_("Please correct the marked fields."), "error")
        return _render_contact(startup, form, status=422)
    profile.add_contact(db, startup, form.contact_values(), current_user)
    flash(_("Contact added."), "success")
    return _back_to_contacts(startup)


@bp.route("/startups/<int:startup_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit_contact(startup_id: int, contact_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    contact = _contact_of(startup, contact_id)
    form = ContactForm(data={**profile.contact_values(contact), "version": str(contact.version)})
    if not form.is_submitted():
        return _render_contact(startup, form, contact)
    if not form.validate():
        flash(_("Please correct the marked fields."), "error")
        return _render_contact(startup, form, contact, status=422)
    typed = form.contact_values()
    try:
        changed = profile.update_contact(db, startup, contact, typed, form.expected_version(),
                                         current_user)
    except StaleRecord as stale:
        abandon_request_changes()
        form.version.data = str(stale.version)
        conflicts = [ShownChange(str(FIELD_LABELS.get(name, name)),
                                 show_value(name, stale.current.get(name)),
                                 show_value(name, value))
                     for name, value in typed.items()
                     if stale.current.get(name) != profile.normalised_contact_value(name, value)]
        return _render_contact(startup, form, contact, conflicts=conflicts, status=409)
    flash(_("Contact saved.") if changed else _("Nothing changed."), "success")
    return _back_to_contacts(startup)


@bp.route("/startups/<int:startup_id>/contacts/<int:contact_id>/remove",
          methods=["GET", "POST"])
@login_required
def remove_contact(startup_id: int, contact_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    contact = _contact_of(startup, contact_id)
    form = RemoveContactForm(data={"version": str(contact.version)})
    if not form.validate_on_submit():
        return render_template("startups/contact_remove.html", startup=startup, contact=contact,
                               form=form)
    try:
        profile.remove_contact(db, startup, contact, form.expected_version(), current_user)
    except StaleRecord:
        abandon_request_changes()
        contact = _contact_of(startup, contact_id)
        form.version.data = str(contact.version)
        return render_template("startups/contact_remove.html", startup=startup, contact=contact,
                               form=form, changed=True), 409
    flash(_("Contact removed."), "success")
    return _back_to_contacts(startup)


# Change history -------------------------------------------------------------------------------


@bp.get("/startups/<int:startup_id>/history")
@login_required
def history(startup_id: int):
    if not can_view_history(current_user):
        abort(403)
    startup = get_or_404(Startup, startup_id)
    before_id = request.args.get("before", type=int)
    page = profile.change_history(get_session(), startup.id, before_id=before_id)
    return render_template("startups/history.html", startup=startup,
                           entries=[history_entry(record) for record in page.records],
                           older_than=page.older_than, paged=before_id is not None)
