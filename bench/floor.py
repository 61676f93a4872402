"""The floor for the weekly report: the same figures by hand-written SQL alone, no ORM objects.

For a manager (every programme, every owner): the pipeline at the week's end and start, moves
and landings in the week, time in stage over the 12 weeks, new leads by country, sector,
source and event, overdue enrollments and tasks (the first 50 and how many), workload per
person and the 12-week trend. The report may not cost more than 3 times this.

`digest()` and `report_digest()` reduce both to the same comparable numbers, so the run can
tell that the floor computes what the report does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from crm.core.types import UTCDateTime
from crm.reports.periods import Period
from crm.reports.weekly import WeeklyReport

PROGRAMMES = """
SELECT p.id, p.key FROM programmes p
JOIN programme_versions v ON v.programme_id = p.id AND v.number = p.current_version
ORDER BY p.id"""

PIPELINE_AT = """
SELECT programme_id, stage, count(*) FROM (
    SELECT e.programme_id, e.stage FROM enrollments e
    WHERE e.status = 'open' AND e.stage_entered_at < :at
    UNION ALL
    SELECT e.programme_id,
           (SELECT se.to_stage FROM stage_events se
            WHERE se.enrollment_id = e.id AND se.occurred_at < :at
            ORDER BY se.occurred_at DESC, se.id DESC LIMIT 1) AS stage
    FROM enrollments e
    WHERE e.id IN (SELECT enrollment_id FROM stage_events WHERE occurred_at >= :at)
      AND (e.closed_at IS NULL OR e.closed_at >= :at)
) AS open_then
GROUP BY programme_id, stage"""

MOVES = """
SELECT e.programme_id, se.to_stage, count(*) FROM stage_events se
JOIN enrollments e ON e.id = se.enrollment_id
WHERE se.occurred_at >= :start AND se.occurred_at < :end AND se.from_stage IS NOT NULL
GROUP BY e.programme_id, se.to_stage"""

LANDINGS = """
SELECT programme_id, count(*) FROM enrollments
WHERE status = 'landed' AND closed_at >= :start AND closed_at < :end
GROUP BY programme_id"""

# SQLite has no percentile aggregate, and ranking 400,000 stays in window functions costs it
# seconds: the stays' durations are read in one pass and sorted per group in plain Python,
# the cheapest way to these figures there (nearest rank; an unknown duration ranks first).
TIME_IN_STAGE_STAYS = """
SELECT e.programme_id, se.from_stage, se.seconds_in_previous_stage
FROM stage_events se JOIN enrollments e ON e.id = se.enrollment_id
WHERE se.from_stage IS NOT NULL AND se.occurred_at >= :start AND se.occurred_at < :end"""

# PostgreSQL has the nearest-rank percentile built in (percentile_disc: the first value whose
# cumulative share reaches p), which SQLite has not.
TIME_IN_STAGE_POSTGRESQL = """
SELECT e.programme_id, se.from_stage, count(*),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY se.seconds_in_previous_stage),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY se.seconds_in_previous_stage)
FROM stage_events se JOIN enrollments e ON e.id = se.enrollment_id
WHERE se.from_stage IS NOT NULL AND se.occurred_at >= :start AND se.occurred_at < :end
GROUP BY e.programme_id, se.from_stage"""

NEW_LEADS = """
SELECT 'total', '', count(*) FROM startups s
WHERE s.created_at >= :start AND s.created_at < :end
UNION ALL
SELECT 'country', s.country, count(*) FROM startups s
WHERE s.created_at >= :start AND s.created_at < :end GROUP BY s.country
UNION ALL
SELECT 'sector', ss.sector, count(*) FROM startups s JOIN startup_sectors ss ON ss.startup_id = s.id
WHERE s.created_at >= :start AND s.created_at < :end GROUP BY ss.sector
UNION ALL
SELECT 'source', s.source, count(*) FROM startups s
WHERE s.created_at >= :start AND s.created_at < :end GROUP BY s.source
UNION ALL
SELECT 'event', s.source_detail, count(*) FROM startups s
WHERE s.created_at >= :start AND s.created_at < :end AND s.source_detail IS NOT NULL
GROUP BY s.source_detail"""

OVERDUE_ENROLLMENTS = """
SELECT e.id, e.startup_id, s.name, e.programme_id, e.stage, s.owner_id, u.name, e.due_at
FROM enrollments e JOIN startups s ON s.id = e.startup_id LEFT JOIN users u ON u.id = s.owner_id
WHERE e.status = 'open' AND e.due_at <= :now
ORDER BY e.due_at, e.id LIMIT 50"""

OVERDUE_ENROLLMENT_COUNT = """
SELECT count(*) FROM enrollments WHERE status = 'open' AND due_at <= :now"""

OVERDUE_TASKS = """
SELECT t.id, t.title, t.startup_id, s.name, e.programme_id, e.stage, t.assignee_id, u.name,
       t.due_at
FROM tasks t LEFT JOIN startups s ON s.id = t.startup_id
LEFT JOIN enrollments e ON e.id = t.enrollment_id LEFT JOIN users u ON u.id = t.assignee_id
WHERE t.done_at IS NULL AND t.due_at <= :now
ORDER BY t.due_at, t.id LIMIT 50"""

OVERDUE_TASK_COUNT = """
SELECT count(*) FROM tasks WHERE done_at IS NULL AND due_at <= :now"""

WORKLOAD = """
SELECT loads.user_id, u.name, CAST(sum(open_enrollments) AS INTEGER),
       CAST(sum(overdue_enrollments) AS INTEGER), CAST(sum(open_tasks) AS INTEGER),
       CAST(sum(overdue_tasks) AS INTEGER)
FROM (
    SELECT s.owner_id AS user_id, count(*) AS open_enrollments,
           count(CASE WHEN e.due_at <= :now THEN 1 END) AS overdue_enrollments,
           0 AS open_tasks, 0 AS overdue_tasks
    FROM enrollments e JOIN startups s ON s.id = e.startup_id
    WHERE e.status = 'open' GROUP BY s.owner_id
    UNION ALL
    SELECT t.assignee_id, 0, 0, count(*), count(CASE WHEN t.due_at <= :now THEN 1 END)
    FROM tasks t WHERE t.done_at IS NULL GROUP BY t.assignee_id
) AS loads LEFT JOIN users u ON u.id = loads.user_id
GROUP BY loads.user_id, u.name"""


def _trend_sql(weeks: int) -> str:
    """New leads and landings per week: each row's week by a CASE over the weeks' ends
    (grouped by position: PostgreSQL would not see the repeated CASE as the same). Only
    column names and parameter names go into the text."""
    def bucket(column: str) -> str:
        cases = " ".join(f"WHEN {column} < :week_end_{i} THEN {i}" for i in range(weeks))
        return f"CASE {cases} END"

    return f"""
SELECT 'lead', {bucket('created_at')} AS week, count(*) FROM startups
WHERE created_at >= :start AND created_at < :end GROUP BY 2
UNION ALL
SELECT 'landing', {bucket('closed_at')} AS week, count(*) FROM enrollments
WHERE status = 'landed' AND closed_at >= :start AND closed_at < :end
GROUP BY 2"""  # noqa: S608 - column and parameter names only


def _run(connection: Connection, sql: str, **values: Any) -> Sequence[Any]:
    """Execute with every datetime bound as the app stores it (UTC; text on SQLite)."""
    statement = text(sql).bindparams(*(bindparam(name, type_=UTCDateTime())
                                       for name, value in values.items()
                                       if isinstance(value, datetime)))
    return connection.execute(statement, values).all()


def _time_in_stage(connection: Connection, trend: Period) -> list[tuple]:
    """(programme id, stage, stays, median, p90) of the stays that ended in the trend."""
    if connection.dialect.name == "postgresql":
        return _run(connection, TIME_IN_STAGE_POSTGRESQL, start=trend.start, end=trend.end)
    groups: dict[tuple[int, str], list] = {}
    unknown: dict[tuple[int, str], int] = {}
    stays = text(TIME_IN_STAGE_STAYS).bindparams(bindparam("start", type_=UTCDateTime()),
                                                 bindparam("end", type_=UTCDateTime()))
    # Row by row, not all rows at once (90 MB of rows).
    for programme_id, stage, seconds in connection.execute(stays, {"start": trend.start,
                                                                    "end": trend.end}):
        if seconds is None:
            unknown[programme_id, stage] = unknown.get((programme_id, stage), 0) + 1
            groups.setdefault((programme_id, stage), [])
        else:
            groups.setdefault((programme_id, stage), []).append(seconds)
    figures = []
    for (programme_id, stage), durations in sorted(groups.items()):
        durations = [None] * unknown.get((programme_id, stage), 0) + sorted(durations)
        count = len(durations)
        figures.append((programme_id, stage, count, durations[(count * 50 + 99) // 100 - 1],
                        durations[(count * 90 + 99) // 100 - 1]))
    return figures


def floor_figures(connection: Connection, week: Period, trend: Period,
                  now: datetime) -> dict[str, Any]:
    """Every figure of the manager's weekly report for `week`, compiled at `now`."""
    weeks = trend.weeks()
    ends = {f"week_end_{i}": period.end for i, period in enumerate(weeks)}
    in_week = {"start": week.start, "end": week.end}
    return {
        "programmes": _run(connection, PROGRAMMES),
        "pipeline_end": _run(connection, PIPELINE_AT, at=week.end),
        "pipeline_start": _run(connection, PIPELINE_AT, at=week.start),
        "moves": _run(connection, MOVES, **in_week),
        "landings": _run(connection, LANDINGS, **in_week),
        "time_in_stage": _time_in_stage(connection, trend),
        "new_leads": _run(connection, NEW_LEADS, **in_week),
        "overdue_enrollments": _run(connection, OVERDUE_ENROLLMENTS, now=now),
        "overdue_enrollment_count": _run(connection, OVERDUE_ENROLLMENT_COUNT, now=now),
        "overdue_tasks": _run(connection, OVERDUE_TASKS, now=now),
        "overdue_task_count": _run(connection, OVERDUE_TASK_COUNT, now=now),
        "workload": _run(connection, WORKLOAD, now=now),
        "trend": _run(connection, _trend_sql(len(weeks)), start=trend.start, end=trend.end,
                      **ends),
        "weeks": len(weeks),
    }


def _nonzero(pairs) -> dict[str, int]:
    return {f"{pid}:{key}": count for pid, key, count in pairs if key is not None and count}


def digest(figures: dict[str, Any]) -> dict[str, Any]:
    """The floor's figures as the comparable numbers."""
    trend = [[0, 0] for _ in range(figures["weeks"])]
    for kind, week, count in figures["trend"]:
        trend[week][0 if kind == "lead" else 1] = count
    return {
        "pipeline": _nonzero(figures["pipeline_end"]),
        "moves": _nonzero(figures["moves"]),
        "landings": {str(pid): count for pid, count in figures["landings"] if count},
        "time_in_stage": {f"{pid}:{stage}": [stays, median, p90]
                          for pid, stage, stays, median, p90 in figures["time_in_stage"]},
        "new_leads": next((count for kind, _key, count in figures["new_leads"]
                           if kind == "total"), 0),
        "overdue_enrollments": figures["overdue_enrollment_count"][0][0],
        "overdue_tasks": figures["overdue_task_count"][0][0],
        "workload_people": len(figures["workload"]),
        "trend": trend,
    }


def report_digest(report: WeeklyReport) -> dict[str, Any]:
    """The same numbers, read off the compiled report."""
    def rows():
        for programme in report.programmes:
            for row in programme.stages:
                yield programme.programme.programme_id, row

    return {
        "pipeline": _nonzero((pid, row.key, row.open) for pid, row in rows()),
        "moves": _nonzero((pid, row.key, row.moves_in) for pid, row in rows()),
        "landings": {str(p.programme.programme_id): p.landings for p in report.programmes
                     if p.landings},
        "time_in_stage": {f"{pid}:{row.key}": [row.stays, row.median_seconds, row.p90_seconds]
                          for pid, row in rows() if row.stays},
        "new_leads": report.new_leads.total,
        "overdue_enrollments": report.overdue_enrollments.total,
        "overdue_tasks": report.overdue_tasks.total,
        "workload_people": len(report.workload),
        "trend": [[week.new_leads, week.landings] for week in report.trend],
    }
