"""`crm report weekly`: print a week's pipeline report, or queue it for its subscribers."""

from __future__ import annotations

import click
from flask import current_app, render_template
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from crm.core.clock import utcnow
from crm.core.enums import Language
from crm.db import unit_of_work
from crm.reports.figures import Scope, scope_for
from crm.reports.sending import queue_weekly_reports
from crm.reports.weekly import compile_weekly_report, parse_week
from crm.users.models import User


@click.group("report", cls=AppGroup)
def report() -> None:
    """Pipeline reports."""


@report.command("weekly")
@click.option("--week", "week_text", required=True, metavar="YYYY-Www",
              help="The ISO week, e.g. 2026-W47.")
@click.option("--user", "email", metavar="EMAIL",
              help="Print it as this user sees it (scope and language); with --send, queue it "
                   "for this user only.")
@click.option("--send", is_flag=True,
              help="Queue it for every subscriber (or --user) instead of printing it; each "
                   "gets a week's report once.")
def weekly(week_text: str, email: str | None, send: bool) -> None:
    """Print the weekly pipeline report as text (default: all programmes, English)."""
    settings = current_app.config["SETTINGS"]
    week = parse_week(week_text, settings.timezone)
    if week is None:
        raise click.BadParameter("write an ISO week such as 2026-W47", param_hint="--week")
    now = utcnow()
    with unit_of_work() as db:
        user = None
        if email:
            user = db.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                raise click.ClickException(f"no user with the address {email}")
        if send:
            if week.end > now:
                raise click.ClickException(f"{week_text} has not ended yet")
            result = queue_weekly_reports(db, settings, week, now,
                                          recipients=[user] if user else None)
            click.echo(result)
            return
        if week.start > now:
            raise click.ClickException(f"{week_text} has not begun yet")
        report_ = compile_weekly_report(db, scope_for(user) if user else Scope(), week, now)
        with force_locale(str(user.locale) if user else Language.EN.value):
            click.echo(render_template("emails/reports/weekly.subject.txt", report=report_))
            click.echo()
            click.echo(render_template("reports/_weekly_body.txt", report=report_,
                                       base_url=settings.base_url))
