"""The weekly report as a page: /reports/weekly/2026-W47, in the signed-in user's scope."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, url_for
from flask_babel import force_locale
from flask_login import current_user, login_required

from crm.core.clock import utcnow
from crm.db import get_session
from crm.reports import figures
from crm.reports.chart import trend_chart_png
from crm.reports.periods import Period, last_weeks, week_of
from crm.reports.weekly import TREND_WEEKS, compile_weekly_report, parse_week

bp = Blueprint("weekly_reports", __name__, url_prefix="/reports/weekly")


def _tz_name() -> str:
    return current_app.config["SETTINGS"].timezone


def _week_or_404(text: str) -> Period:
    """The week named in the URL; 404 for a malformed name or a week that has not begun."""
    week = parse_week(text, _tz_name())
    if week is None or week.start > utcnow():
        abort(404)
    return week


@bp.get("/")
@login_required
def latest():
    """The last complete week (the one Monday's email reports on)."""
    last_week = week_of(utcnow(), _tz_name()).previous()
    return redirect(url_for(".show", week=last_week.week_name))


@bp.get("/<week>")
@login_required
def show(week: str):
    period = _week_or_404(week)
    now = utcnow()
    report = compile_weekly_report(get_session(), figures.scope_for(current_user), period, now)
    following = week_of(period.end, period.tz_name)
    return render_template(
        "reports/weekly.html", report=report,
        previous_week=period.previous(),
        next_week=following if following.start <= now else None,
    )


@bp.get("/<week>/trend.png")
@login_required
def trend_chart(week: str):
    """The page's chart, drawn on request (the email carries its own copy inline)."""
    period = _week_or_404(week)
    trend = figures.trend(get_session(), figures.scope_for(current_user),
                          last_weeks(period, TREND_WEEKS))
    with force_locale(str(current_user.locale)):
        png = trend_chart_png(trend)
    return Response(png, mimetype="image/png")
