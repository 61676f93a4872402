"""Startup list and page, and the task list."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from crm.core.enums import Role, StartupStatus, parse_enum
from crm.db import get_session
from crm.startups import queries
from crm.startups.access import can_edit_startup
from crm.workflow.forms import CHECKLIST_STATUS_LABELS, ITEM_OWNER_LABELS, panel_forms

bp = Blueprint("startups", __name__)


@bp.get("/")
@login_required
def index():
    search = request.args.get("q", "").strip()[:200]
    status_filter = parse_enum(StartupStatus, request.args.get("status"))
    page = queries.list_startups(
        get_session(),
        search=search,
        status=status_filter,
        after_id=request.args.get("after", type=int),
    )
    return render_template("startups/index.html", page=page, search=search,
                           status=status_filter, statuses=list(StartupStatus))


@bp.get("/startups/<int:startup_id>")
@login_required
def show(startup_id: int):
    detail = queries.startup_detail(get_session(), startup_id)
    if detail is None:
        abort(404)
    return render_template("startups/show.html", detail=detail,
                           can_edit=can_edit_startup(current_user, detail.startup),
                           forms=panel_forms(), checklist_labels=CHECKLIST_STATUS_LABELS,
                           owner_labels=ITEM_OWNER_LABELS)


tasks_bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@tasks_bp.get("/", endpoint="index")
@login_required
def open_tasks():
    show_all = request.args.get("scope") == "all" and current_user.has_role(
        Role.ADMIN, Role.MANAGER
    )
    rows = queries.open_tasks_for(get_session(), None if show_all else current_user.id)
    return render_template("tasks/index.html", rows=rows, show_all=show_all)
