"""The admin's audit page: events filtered by action, person, record, days and address, newest
or oldest first, 50 a page; the same events as a CSV file (itself an audit event)."""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.audit import queries
from crm.audit.forms import MAX_ID, AuditFilterForm
from crm.audit.queries import AuditFilters
from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_session
from crm.reports.tables import Table, table_file
from crm.users.access import role_required

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

MAX_FILE_ROWS = 10_000


def _read_filters() -> tuple[AuditFilterForm, AuditFilters | None]:
    form = AuditFilterForm(formdata=request.args)
    form.offer(queries.staff(get_session()))
    if not form.validate():
        return form, None
    return form, AuditFilters.of(form, current_app.config["SETTINGS"].timezone)


def _cursor(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def details_lines(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's details as (name, text) lines: text as it is, anything else as JSON."""
    return [(str(key), value if isinstance(value, str)
             else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
            for key, value in sorted((details or {}).items())]


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    form, filters = _read_filters()
    before, after = _cursor("before"), _cursor("after")
    page = (queries.event_page(get_session(), filters, before=before, after=after)
            if filters else None)
    return render_template("admin/audit.html", form=form, page=page,
                           query=form.query() if filters else {},
                           paged=before is not None or after is not None,
                           details_lines=details_lines), 200 if filters else 422


@bp.get("/events.csv")
@role_required(Role.ADMIN)
def download():
    form, filters = _read_filters()
    if filters is None:  # the page says what is wrong, next to the field
        return redirect(url_for(".index", **request.args))
    db = get_session()
    rows = queries.events_for_file(db, filters, MAX_FILE_ROWS)
    audit.record(db, "audit.exported", actor_user_id=current_user.id,
                 ip_address=request.remote_addr, filters=form.query(), rows=len(rows))
    table = Table(title=_("Audit events"), headers=[
        _("Event"), _("When (UTC)"), _("Who (id)"), _("Who"), _("Action"), _("Record type"),
        _("Record id"), _("IP address"), _("Details")], rows=[
        [row.event.id, row.event.occurred_at.isoformat(), row.event.actor_user_id,
         row.actor_name, row.event.action, row.event.object_type, row.event.object_id,
         row.event.ip_address,
         json.dumps(row.event.details, ensure_ascii=False, sort_keys=True, default=str)]
        for row in rows])
    content, mimetype = table_file(table, "csv")
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True,
                     download_name=f"audit-events-{utcnow():%Y%m%d-%H%M%S}.csv",
                     conditional=False, etag=False)
