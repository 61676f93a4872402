"""Monday's weekly reports: one per subscriber and ISO week, queued in the outbox.

The dedupe key `weekly-report:<user id>:<YYYY>-W<WW>` makes each report go out once: a key
queued before is skipped without compiling, and of two runs racing for a key the one whose
insert loses (PostgreSQL makes it wait for the winner's commit) rolls back to its savepoint and
moves on. A run is one transaction (the task's). A report that cannot be compiled is logged by
user id and error kind only and does not stop the others; the next run (beat repeats every ten
minutes on Monday) tries it again.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crm.config import Settings
from crm.core.enums import Language, parse_enum
from crm.outbox.models import OutboxMessage
from crm.outbox.services import Attachment, queue_email
from crm.reports.chart import trend_chart_png
from crm.reports.figures import scope_for
from crm.reports.periods import Period, week_of
from crm.reports.spreadsheets import CSV_TYPE, XLSX_TYPE, csv_bytes, report_sections, xlsx_bytes
from crm.reports.weekly import WeeklyReport, app_path, compile_weekly_report
from crm.users.models import User

log = logging.getLogger(__name__)

SEND_FROM = time(7)  # on Monday, in Settings.timezone
CHART_CID = "trend@landing-desk"


@dataclass(frozen=True)
class SendResult:
    queued: int = 0
    already: int = 0  # queued before, by this or another run
    failed: int = 0

    def __str__(self) -> str:
        return f"queued {self.queued}, already queued {self.already}, failed {self.failed}"


def week_to_report(now: datetime, tz_name: str) -> Period | None:
    """The ISO week that just ended, from Monday 07:00 local time to the end of that Monday;
    None at any other time."""
    local = now.astimezone(ZoneInfo(tz_name))
    if local.weekday() != 0 or local.time() < SEND_FROM:
        return None
    return week_of(now, tz_name).previous()


def dedupe_key(user_id: int, week: Period) -> str:
    return f"weekly-report:{user_id}:{week.week_name}"


def send_weekly_reports(db: Session, settings: Settings, now: datetime) -> SendResult:
    """What beat runs: on Monday from 07:00, last week's report to every active subscriber."""
    week = week_to_report(now, settings.timezone)
    if week is None:
        return SendResult()
    result = queue_weekly_reports(db, settings, week, now)
    log.info("weekly reports for %s: %s", week.week_name, result)
    return result


def subscribers(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.is_active, User.weekly_report)
                           .order_by(User.id)))


def queue_weekly_reports(db: Session, settings: Settings, week: Period, now: datetime,
                         recipients: list[User] | None = None) -> SendResult:
    """Queue the week's report for each recipient (default: the subscribers) who has none."""
    recipients = subscribers(db) if recipients is None else recipients
    queued = already = failed = 0
    for user in recipients:
        key = dedupe_key(user.id, week)
        if db.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            already += 1
            continue
        try:
            with db.begin_nested():
                queue_weekly_report(db, settings, user, week, now, key)
            queued += 1
        except IntegrityError:  # a concurrent run queued this key first
            already += 1
        except Exception as error:  # one user's report must not stop the others
            failed += 1
            frame = traceback.extract_tb(error.__traceback__)[-1]
            # Only ids and code locations: messages may quote names or addresses.
            log.error("weekly report %s for user %s not queued: %s at %s:%s", week.week_name,
                      user.id, type(error).__name__, Path(frame.filename).name, frame.lineno)
    return SendResult(queued, already, failed)


def queue_weekly_report(db: Session, settings: Settings, user: User, week: Period,
                        now: datetime, key: str) -> OutboxMessage:
    """Compile the user's report and queue it in their language, with the trend chart inline
    and the figures as XLSX and CSV (an empty report goes without them)."""
    report = compile_weekly_report(db, scope_for(user), week, now)
    locale = parse_enum(Language, user.locale) or Language.EN
    with force_locale(locale.value):
        attachments = [] if report.is_empty else report_attachments(report, settings.base_url)
    return queue_email(
        db, dedupe_key=key, to_address=user.email, locale=locale,
        template="reports/weekly", user_id=user.id, attachments=attachments,
        context={"user": user, "report": report, "base_url": settings.base_url,
                 "page_path": app_path("weekly_reports.show", week=week.week_name),
                 "chart_cid": CHART_CID})


def report_attachments(report: WeeklyReport, base_url: str) -> list[Attachment]:
    """The chart (inline) and the two spreadsheets, labelled in the current language."""
    sections = report_sections(report, base_url)
    name = f"pipeline-{report.name}"
    chart = trend_chart_png(report.trend)
    return [
        Attachment(f"trend-{report.name}.png", "image/png", chart, content_id=CHART_CID),
        Attachment(f"{name}.xlsx", XLSX_TYPE, xlsx_bytes(sections)),
        Attachment(f"{name}.csv", CSV_TYPE, csv_bytes(sections)),
    ]

