"""The reports page: funnel, time in stage, trend and new leads for a programme and period,
each section also as a CSV or XLSX download with the same filters."""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal, format_percent, get_locale
from flask_login import current_user, login_required

from crm.core.clock import utcnow
from crm.db import get_session
from crm.reports import figures
from crm.reports.figures import ProgrammeStages, Scope
from crm.reports.forms import ReportFilterForm
from crm.reports.page import SECTIONS, SHOWN_PER_BREAKDOWN, compile_page, days, section_table
from crm.reports.periods import Period
from crm.reports.tables import table_file

bp = Blueprint("reports", __name__, url_prefix="/reports")

_SECTION_RULE = "<any({}):section>".format(", ".join(f'"{s}"' for s in SECTIONS))


@dataclass(frozen=True)
class Filters:
    scope: Scope
    stages: list[ProgrammeStages]  # the programmes in scope
    period: Period


def _locale() -> str:
    return str(get_locale() or "en")


def _read_filters() -> tuple[ReportFilterForm, list[ProgrammeStages], Filters | None]:
    """The form read from the address, every programme (to offer), and the filters if valid."""
    programmes = figures.programmes(get_session(), Scope())
    form = ReportFilterForm(formdata=request.args)
    form.offer(programmes, _locale())
    if not form.validate():
        return form, programmes, None
    chosen = form.chosen_programme(programmes)
    scope = figures.scope_for(current_user, chosen.programme_id if chosen else None)
    period = form.period(utcnow(), current_app.config["SETTINGS"].timezone)
    return form, programmes, Filters(scope, [chosen] if chosen else programmes, period)


@bp.get("/")
@login_required
def index():
    form, programmes, filters = _read_filters()
    page = (compile_page(get_session(), filters.scope, filters.period, filters.stages)
            if filters else None)
    return render_template(
        "reports/index.html", form=form, programmes=programmes, filters=filters, page=page,
        query=form.query() if filters else {}, sections=SECTIONS, days=days,
        shown=SHOWN_PER_BREAKDOWN, number=format_decimal, percent=format_percent,
    ), 200 if filters else 422


@bp.get(f"/{_SECTION_RULE}.<any(csv, xlsx):file_format>")
@login_required
def download(section: str, file_format: str):
    _form, _programmes, filters = _read_filters()
    if filters is None:  # the page says what is wrong, next to the field
        query = request.query_string.decode("latin-1")
        return redirect(f"{url_for('reports.index')}?{query}")
    table = section_table(get_session(), section, filters.scope, filters.period,
                          filters.stages, _locale())
    content, mimetype = table_file(table, file_format)
    period = filters.period
    # Only the section and dates in the name: ASCII, nothing personal.
    response = send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True,
                         download_name=f"{section}-{period.first_day}-{period.last_day}"
                                       f".{file_format}", conditional=False, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response
