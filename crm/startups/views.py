"""Startup list and page (quick-log, tasks, timeline), and the task list."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlmodel import Session
from wtforms import SelectChoice

from crm.core.clock import utcnow
from crm.core.enums import ActivityKind, Role
from crm.core.page_cache import cached_page
from crm.core.security import same_site_path
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.startups import queries, services
from crm.startups.access import can_edit_startup, editable_startup
from crm.startups.forms import ActivityForm, ReassignForm, SnoozeForm, TaskForm, TaskStateForm
from crm.startups.list_views import render_list
from crm.startups.models import Startup, Task
from crm.startups.timeline import EMAIL_STATUS_LABELS, format_before, parse_before, startup_timeline
from crm.work import queries as work_queries
from crm.workflow.forms import CHECKLIST_STATUS_LABELS, ITEM_OWNER_LABELS, panel_forms

bp = Blueprint("startups", __name__)


@bp.get("/")
@login_required
@cached_page
def index():
    return render_list(request.args)


@bp.get("/startups/<int:startup_id>")
@login_required
def show(startup_id: int):
    db = get_session()
    detail = queries.startup_detail(db, startup_id)
    if detail is None:
        abort(404)
    can_edit = can_edit_startup(current_user, detail.startup)
    activity_form = task_form = None
    if can_edit:
        activity_form = ActivityForm(formdata=None)
        task_form = _task_form(db, detail.startup, detail.assignees, formdata=None)
    return _render_show(db, detail, can_edit, activity_form, task_form)


def _render_show(db: Session, detail, can_edit: bool, activity_form, task_form, status=200):
    before = parse_before(request.args.get("before"))
    timeline = startup_timeline(db, detail.startup.id, str(get_locale() or "en"), before=before,
                                definitions={view.version.id: view.definition
                                             for view in detail.enrollments})
    return render_template("startups/show.html", detail=detail, can_edit=can_edit,
                           forms=panel_forms(), checklist_labels=CHECKLIST_STATUS_LABELS,
                           owner_labels=ITEM_OWNER_LABELS, activity_form=activity_form,
                           task_form=task_form, timeline=timeline, paged=before is not None,
                           format_before=format_before, email_status_labels=EMAIL_STATUS_LABELS,
                           state_form=TaskStateForm(formdata=None),
                           ), status


def _task_form(db: Session, startup: Startup, assignees=None, **kwargs) -> TaskForm:
    form = TaskForm(**kwargs)
    if assignees is None:
        assignees = queries.possible_assignees(db, startup)
    form.assignee.choices = [SelectChoice(user.id, user.name) for user in assignees]
    form.assignable = {user.id: user for user in assignees}
    if "formdata" in kwargs and kwargs["formdata"] is None:
        ids = set(form.assignable)
        form.assignee.data = (startup.owner_id if startup.owner_id in ids
                              else current_user.id if current_user.id in ids else None)
    return form


def _refused_form(db: Session, startup: Startup, activity_form, task_form):
    """Nothing half-written stays; the page comes back with what was typed and why not."""
    abandon_request_changes()
    flash(_("Please correct the marked fields."), "error")
    detail = queries.startup_detail(db, startup.id)
    return _render_show(db, detail, True, activity_form, task_form, status=422)


@bp.post("/startups/<int:startup_id>/activities")
@login_required
def log_activity(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    form = ActivityForm()
    if not form.validate_on_submit():
        return _refused_form(db, startup, form,
                             _task_form(db, startup, formdata=None))
    zone = current_app.config["SETTINGS"].tz
    services.log_activity(db, startup, ActivityKind(form.kind.data), form.subject.data,
                          form.body.data or "", form.occurred_at_in(zone), current_user)
    flash(_("Logged."), "success")
    return redirect(url_for("startups.show", startup_id=startup_id, _anchor="timeline"))


@bp.post("/startups/<int:startup_id>/tasks")
@login_required
def create_task(startup_id: int):
    db = get_session()
    startup = editable_startup(startup_id)
    form = _task_form(db, startup)
    if not form.validate_on_submit():
        return _refused_form(db, startup, ActivityForm(formdata=None), form)
    zone = current_app.config["SETTINGS"].tz
    due_at = (datetime.combine(form.due_on.data, time.max, tzinfo=zone)
              if form.due_on.data else None)
    services.create_task(db, startup, form.title.data, due_at,
                         form.assignable[form.assignee.data], current_user)
    flash(_("Task created."), "success")
    return redirect(url_for("startups.show", startup_id=startup_id, _anchor="tasks"))


tasks_bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@tasks_bp.get("/", endpoint="index")
@login_required
def open_tasks():
    show_all = request.args.get("scope") == "all" and current_user.has_role(
        Role.ADMIN, Role.MANAGER
    )
    db = get_session()
    lines = work_queries.open_task_lines(db, None if show_all else current_user.id)
    may_act = current_user.has_role(Role.ADMIN, Role.MANAGER, Role.BD_MANAGER)
    work_queries.attach_actions(lines, current_user,
                                work_queries.active_staff(db) if may_act else [])
    zone = current_app.config["SETTINGS"].tz
    snooze_dates = {option: services.snooze_day(option, utcnow(), zone)
                    for option in services.SNOOZE_OPTIONS}
    return render_template("tasks/index.html", lines=lines, show_all=show_all,
                           snooze_dates=snooze_dates, back=request.full_path.rstrip("?"))


def _changeable_task(task_id: int) -> tuple[Session, Task, Startup | None]:
    """The task the current user may change: 404 if there is none, 403 if not theirs."""
    db = get_session()
    task = get_or_404(Task, task_id)
    startup = db.get(Startup, task.startup_id) if task.startup_id else None
    if not services.may_change_task(current_user, task, startup):
        abort(403)
    return db, task, startup


def _back(next_path: str | None, startup: Startup | None) -> str:
    """Where a task action returns: the page it came from, else the startup's tasks."""
    return same_site_path(next_path) or (
        url_for("startups.show", startup_id=startup.id, _anchor="tasks") if startup
        else url_for("tasks.index"))


def _incomplete(back: str):
    abandon_request_changes()
    flash(_("This form is incomplete. Reload the page and try again."), "error")
    return redirect(back)


def _change_task(task_id: int, change, message: str):
    db, task, startup = _changeable_task(task_id)
    form = TaskStateForm()
    back = _back(form.next.data, startup)
    if not form.validate_on_submit():
        return _incomplete(back)
    change(db, task, startup, current_user)
    flash(message, "success")
    return redirect(back)


@tasks_bp.post("/<int:task_id>/done", endpoint="done")
@login_required
def complete_task(task_id: int):
    return _change_task(task_id, services.complete_task, _("Task done."))


@tasks_bp.post("/<int:task_id>/reopen", endpoint="reopen")
@login_required
def reopen_task(task_id: int):
    return _change_task(task_id, services.reopen_task, _("Task open again."))


@tasks_bp.post("/<int:task_id>/snooze", endpoint="snooze")
@login_required
def snooze_task(task_id: int):
    db, task, startup = _changeable_task(task_id)
    form = SnoozeForm()
    back = _back(form.next.data, startup)
    if not form.validate_on_submit():
        return _incomplete(back)
    if task.done_at is not None:
        flash(_("This task is done already."), "error")
        return redirect(back)
    zone = current_app.config["SETTINGS"].tz
    day = services.snooze_day(form.until.data, utcnow(), zone)
    services.snooze_task(db, task, services.end_of_day(day, zone), current_user)
    flash(_("Task moved to %(date)s.", date=format_date(day)), "success")
    return redirect(back)


@tasks_bp.post("/<int:task_id>/reassign", endpoint="reassign")
@login_required
def reassign_task(task_id: int):
    db, task, startup = _changeable_task(task_id)
    form = ReassignForm()
    back = _back(form.next.data, startup)
    candidates = {user.id: user for user in work_queries.active_staff(db)
                  if services.may_be_assigned(user, startup)}
    form.assignee.choices = [SelectChoice(user.id, user.name) for user in candidates.values()]
    if not form.validate_on_submit():
        abandon_request_changes()
        flash(_("Choose someone who may work on this task's startup."), "error")
        return redirect(back)
    assignee = candidates[form.assignee.data]
    services.reassign_task(db, task, assignee, current_user)
    flash(_("Task given to %(name)s.", name=assignee.name), "success")
    return redirect(back)
