"""The weekly pipeline report: one ISO week's figures for one user's scope, ready to render.

The week's figures (pipeline and its change, new leads, moves, landings) cover the week;
time in stage and the trend cover the 12 weeks ending with it; what needs attention (overdue
enrollments and tasks, workload) is as of the moment the report is compiled, since that is
what its reader can still act on. Links are app paths with ids only (no personal data);
emails put Settings.base_url before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_interval
from flask import current_app
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from sqlmodel import Session

from crm.reports import figures, workload
from crm.reports.figures import NewLeads, ProgrammeStages, Scope, StageChange
from crm.reports.page import days
from crm.reports.periods import Period, iso_week, last_weeks

TREND_WEEKS = 12
YEARS = range(2000, 2100)  # as the reports page's dates; far years overflow local midnights
_WEEK_NAME = re.compile(r"(\d{4})-W(\d{2})")


def parse_week(text: str, tz_name: str) -> Period | None:
    """The ISO week named as Period.week_name writes it ('2026-W47'), or None for anything
    else (also '2026-W54', or a year outside 2000-2099)."""
    match = _WEEK_NAME.fullmatch(text)
    if match is None or int(match[1]) not in YEARS:
        return None
    try:
        return iso_week(int(match[1]), int(match[2]), tz_name)
    except ValueError:
        return None


def week_label(week: Period) -> str:
    """'W47' (in German 'KW 47'): a week's short label in tables and the chart."""
    return _("W%(number)s", number=week.iso_week[1])


def app_path(endpoint: str, **values) -> str:
    """The path of an app URL, also outside a request (tasks and commands have no host)."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


@dataclass(frozen=True)
class StageRow:
    """One stage of a programme in the report, in the programme's stage order."""

    key: str
    open: int | None  # at the end of the week; None for closing stages (nothing stays there)
    change: int  # against the end of the week before
    moves_in: int  # moves into this stage during the week
    median_seconds: int | None  # of stays that ended in the trend's 12 weeks
    p90_seconds: int | None
    stays: int


@dataclass(frozen=True)
class ProgrammeReport:
    programme: ProgrammeStages
    stages: tuple[StageRow, ...]
    landings: int

    @property
    def open_total(self) -> int:
        return sum(row.open or 0 for row in self.stages)

    @property
    def moves_total(self) -> int:
        return sum(row.moves_in for row in self.stages)


@dataclass(frozen=True)
class WeeklyReport:
    week: Period
    compiled_at: datetime
    scope: Scope
    programmes: tuple[ProgrammeReport, ...]
    new_leads: NewLeads
    overdue_enrollments: workload.Capped[workload.OverdueEnrollment]
    overdue_tasks: workload.Capped[workload.OverdueTask]
    workload: tuple[workload.Workload, ...]
    trend: tuple[figures.WeekCount, ...]

    @property
    def name(self) -> str:
        return self.week.week_name

    @property
    def number(self) -> int:
        return self.week.iso_week[1]

    @property
    def dates(self) -> str:
        """'Nov 16 – 22, 2026' ('16.–22. Nov. 2026'): the week's days in the current language."""
        interval = format_interval(self.week.first_day, self.week.last_day, "yMMMd",
                                   locale=get_locale())
        return interval.replace("\u2009", " ")  # thin spaces: mail subjects lose them anyway

    @property
    def moves(self) -> int:
        return sum(programme.moves_total for programme in self.programmes)

    @property
    def landings(self) -> int:
        return sum(programme.landings for programme in self.programmes)

    @property
    def is_empty(self) -> bool:
        """Nothing open, nothing new, nothing moved, no task waiting, in 12 weeks no lead."""
        return (not any(p.open_total or p.moves_total for p in self.programmes)
                and self.new_leads.is_empty and not self.overdue_tasks.total
                and not self.workload
                and not any(week.new_leads or week.landings for week in self.trend))

    def programme(self, programme_id: int | None) -> ProgrammeStages | None:
        return next((p.programme for p in self.programmes
                     if p.programme.programme_id == programme_id), None)

    week_label = staticmethod(week_label)

    @staticmethod
    def days(seconds: int) -> str:
        """A duration in days with one decimal, written as the current language does."""
        return format_decimal(days(seconds))

    @staticmethod
    def startup_path(startup_id: int) -> str:
        return app_path("startups.show", startup_id=startup_id)

    @staticmethod
    def task_path(task: workload.OverdueTask) -> str:
        """A task is done on its startup's page, or in the task list if it has no startup."""
        if task.startup_id is not None:
            return app_path("startups.show", startup_id=task.startup_id)
        return app_path("tasks.index")


def compile_weekly_report(db: Session, scope: Scope, week: Period,
                          now: datetime) -> WeeklyReport:
    """The report on `week` for the part of the pipeline in `scope`, compiled at `now`."""
    trend_period = last_weeks(week, TREND_WEEKS)
    stages = figures.programmes(db, scope)
    loads = tuple(workload.workload(db, scope, now))
    return WeeklyReport(
        week=week,
        compiled_at=now,
        scope=scope,
        programmes=_programme_reports(
            stages,
            figures.pipeline_change(db, scope, week),
            figures.stage_moves(db, scope, week),
            figures.landings(db, scope, week),
            figures.time_in_stage(db, scope, trend_period, stages),
        ),
        new_leads=figures.new_leads(db, scope, week),
        overdue_enrollments=workload.overdue_enrollments(
            db, scope, now, total=sum(load.overdue_enrollments for load in loads)),
        overdue_tasks=workload.overdue_tasks(
            db, scope, now, total=sum(load.overdue_tasks for load in loads)),
        workload=loads,
        trend=tuple(figures.trend(db, scope, trend_period)),
    )


def _programme_reports(stages: list[ProgrammeStages], changes: list[StageChange],
                       moves: list[figures.StageCount], landings: list[figures.ProgrammeCount],
                       durations: list[figures.StageDuration]) -> tuple[ProgrammeReport, ...]:
    """Every stage of the programmes in scope with something in them, in stage order; a stage
    only an older version has is added after the others when something is (or was) in it."""
    change_of = {(c.programme_id, c.stage): c for c in changes}
    moves_of = {(m.programme_id, m.stage): m.count for m in moves}
    duration_of = {(d.programme_id, d.stage): d for d in durations}
    landed = {count.programme_id: count.count for count in landings}
    reports = []
    for programme in stages:
        pid = programme.programme_id
        defined = programme.definition.stage_keys()
        found = {stage for p, stage in change_of | moves_of | duration_of if p == pid}
        rows = []
        for key in defined + sorted(found - set(defined)):
            closing = key in defined and programme.definition.stage(key).closes_as is not None
            change = change_of.get((pid, key))
            duration = duration_of.get((pid, key))
            rows.append(StageRow(
                key=key,
                open=None if closing else (change.count if change else 0),
                change=change.change if change else 0,
                moves_in=moves_of.get((pid, key), 0),
                median_seconds=duration.median_seconds if duration else None,
                p90_seconds=duration.p90_seconds if duration else None,
                stays=duration.stays if duration else 0,
            ))
        report = ProgrammeReport(programme, tuple(rows), landed.get(pid, 0))
        if report.open_total or report.moves_total or any(row.stays for row in rows):
            reports.append(report)
    return tuple(reports)
