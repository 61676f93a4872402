"""The weekly report for a manager: compile time and peak memory, beside the floor.

The report (crm.reports.weekly.compile_weekly_report) and the floor (bench/floor.py, the same
figures by hand-written SQL) are each measured in a process of their own, so that each peak
memory is its own: `python -m bench.weekly report|floor <database url> <now> <runs> <dir>`
prints one JSON line. A run compiles the report on the last whole ISO week before `now`, in a
new session each time; one untimed run first (definitions parsed, statements compiled), then
`runs` timed ones (the last one's SQL is kept: which statements cost the most), then one more
under tracemalloc for the peak of Python allocations.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bench.app import bench_app
from bench.floor import digest, floor_figures, report_digest
from bench.measure import QueryLog, StatementTotals, Timed
from crm.core.clock import set_clock
from crm.core.enums import Role
from crm.reports.figures import scope_for
from crm.reports.periods import last_weeks, week_of
from crm.reports.weekly import TREND_WEEKS, compile_weekly_report
from crm.users.models import User

KINDS = ("report", "floor")


def measure_weekly(database_url: str, now: datetime, runs: int, work_dir: Path) -> dict[str, Any]:
    """Both measurements, their ratio, and whether the floor found the report's numbers."""
    results = {kind: _in_subprocess(kind, database_url, now, runs, work_dir) for kind in KINDS}
    report, floor = results["report"], results["floor"]
    return {
        "report": {key: value for key, value in report.items() if key != "digest"},
        "floor": {key: value for key, value in floor.items() if key != "digest"},
        "ratio": round(report["p50"] / floor["p50"], 2) if floor["p50"] else None,
        "floor_matches_report": report["digest"] == floor["digest"],
        "differences": sorted(key for key in report["digest"]
                              if report["digest"][key] != floor["digest"].get(key)),
    }


def _in_subprocess(kind: str, database_url: str, now: datetime, runs: int,
                   work_dir: Path) -> dict[str, Any]:
    finished = subprocess.run(  # noqa: S603 - this interpreter, our own arguments
        [sys.executable, "-m", "bench.weekly", kind, database_url, now.isoformat(), str(runs),
         str(work_dir)],
        capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"the weekly {kind} measurement failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _max_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over from the parent through fork and exec, so a child of the (large) runner
    would report the runner's size."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(kind: str, database_url: str, now_text: str, runs: int, work_dir: Path) -> None:
    now = datetime.fromisoformat(now_text)
    set_clock(lambda: now)
    app = bench_app(database_url, work_dir)
    engine = app.extensions["db_engine"]
    settings = app.config["SETTINGS"]
    week = week_of(now, settings.timezone).previous()
    trend = last_weeks(week, TREND_WEEKS)
    with app.app_context(), Session(engine) as db:
        manager = db.scalars(select(User).where(User.role == Role.MANAGER, User.is_active)
                             .order_by(User.id).limit(1)).one()
        scope = scope_for(manager)

    def once():
        with Session(engine) as db:
            if kind == "report":
                return report_digest(compile_weekly_report(db, scope, week, now))
            return digest(floor_figures(db.connection(), week, trend, now))

    with app.app_context(), QueryLog(engine) as log:
        baseline_mb = _max_rss_mb()
        found = once()
        timed = Timed()
        for _ in range(runs):
            with log.recording() as statements:  # the last run's are kept
                timed.run(once)
        tracemalloc.start()
        once()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    stats = timed.stats
    totals: dict[str, StatementTotals] = {}
    for statement in statements:
        totals.setdefault(statement.sql, StatementTotals(statement.sql)).add(statement)
    slowest = sorted(totals.values(), key=lambda total: total.seconds, reverse=True)
    print(json.dumps({
        "week": week.week_name, "n": stats.n, "p50": stats.p50, "max": stats.max,
        "queries": len(statements), "top_sql": [total.as_json() for total in slowest[:5]],
        "python_peak_mb": round(peak / 2**20, 1), "max_rss_mb": _max_rss_mb(),
        "baseline_rss_mb": baseline_mb, "digest": found,
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
