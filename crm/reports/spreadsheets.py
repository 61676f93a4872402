"""The weekly report's figures as files: an XLSX workbook with a sheet per section, and one CSV.

The CSV is long ("tidy"): one figure per line under the columns Section, Group, Item, Measure,
Value, so a manager can filter or pivot it in any spreadsheet without knowing its layout. Both
are written in the current (forced) language; text a spreadsheet would run as a formula is
defused as the startups export does it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import get_locale
from flask_babel import gettext as _

from crm.exports.services import defused
from crm.reports.page import days, leads_table, trend_table
from crm.reports.tables import MEDIA_TYPES, Table, csv_value, workbook_bytes
from crm.reports.weekly import WeeklyReport

XLSX_TYPE, CSV_TYPE = MEDIA_TYPES["xlsx"], MEDIA_TYPES["csv"]


@dataclass(frozen=True)
class Section:
    """One section of the report: a sheet of the workbook, a run of lines in the CSV."""

    table: Table
    keys: int  # the leading columns that name a row: 1 (Item) or 2 (Group, Item)


def _local_date(report: WeeklyReport, moment: datetime) -> date:
    return moment.astimezone(report.week.zone).date()


def report_sections(report: WeeklyReport, base_url: str) -> list[Section]:
    """The report's sections as tables, labels in the current language, links absolute."""
    locale = str(get_locale())
    pipeline = Section(Table(
        _("Pipeline"),
        [_("Programme"), _("Stage"), _("Open at the end of the week"), _("On last week"),
         _("Moved in"), _("Median days in stage"), _("90th percentile of days in stage"),
         _("Stays ended in %(weeks)s weeks", weeks=len(report.trend))],
        [[programme.programme.name(locale), programme.programme.stage_label(row.key, locale),
          row.open, None if row.open is None else row.change, row.moves_in,
          None if row.median_seconds is None else days(row.median_seconds),
          None if row.p90_seconds is None else days(row.p90_seconds), row.stays]
         for programme in report.programmes for row in programme.stages]), keys=2)
    new_leads = Section(leads_table(report.new_leads), keys=2)
    landings = Section(Table(
        _("Landings"),
        [_("Programme"), _("Landings")],
        [[programme.programme.name(locale), programme.landings]
         for programme in report.programmes]), keys=1)
    overdue_enrollments = Section(Table(
        _("Overdue enrollments"),
        [_("Startup"), _("Programme"), _("Stage"), _("Owner"), _("Due"), _("Link")],
        [[item.startup_name, *_programme_and_stage(report, item.programme_id, item.stage, locale),
          item.owner_name or "", _local_date(report, item.due_at),
          base_url + report.startup_path(item.startup_id)]
         for item in report.overdue_enrollments.items]), keys=1)
    overdue_tasks = Section(Table(
        _("Overdue tasks"),
        [_("Task"), _("Startup"), _("Assignee"), _("Due"), _("Link")],
        [[task.title, task.startup_name or "", task.assignee_name or "",
          _local_date(report, task.due_at), base_url + report.task_path(task)]
         for task in report.overdue_tasks.items]), keys=1)
    workload = Section(Table(
        _("Workload"),
        [_("Person"), _("Open enrollments"), _("Overdue enrollments"), _("Open tasks"),
         _("Overdue tasks")],
        [[load.name or _("Nobody"), load.open_enrollments, load.overdue_enrollments,
          load.open_tasks, load.overdue_tasks] for load in report.workload]), keys=1)
    trend = Section(trend_table(list(report.trend)), keys=1)
    return [pipeline, new_leads, landings, overdue_enrollments, overdue_tasks, workload, trend]


def _programme_and_stage(report: WeeklyReport, programme_id: int, stage: str,
                         locale: str) -> tuple[str, str]:
    programme = report.programme(programme_id)
    if programme is None:
        return "", stage
    return programme.name(locale), programme.stage_label(stage, locale)


def xlsx_bytes(sections: list[Section]) -> bytes:
    """A workbook with one sheet per section."""
    return workbook_bytes([section.table for section in sections])


def csv_bytes(sections: list[Section]) -> bytes:
    """Section, Group, Item, Measure, Value: one figure per line (UTF-8 with BOM, for Excel)."""
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow([_("Section"), _("Group"), _("Item"), _("Measure"), _("Value")])
    for section in sections:
        table, keys = section.table, section.keys
        for row in table.rows:
            names = [str(value) for value in row[:keys]]
            group, item = names if keys == 2 else ("", names[0])
            for measure, value in zip(table.headers[keys:], row[keys:], strict=True):
                writer.writerow([defused(text) for text in (table.title, group, item, measure)]
                                + [csv_value(value)])
    return output.getvalue().encode("utf-8-sig")
