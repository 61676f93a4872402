"""`make bench`: measure Landing Desk on generated data and hold the figures against the targets.

    python -m bench.run [--scale agency|small] [--db sqlite|postgresql|both] [--only list,board]
                        [--explain] [--smoke] [--database-url URL]

For each database it takes (or first generates) the data set, copies it, and measures on the
copy: the pages in-process, the weekly report beside its SQL floor, the reminder sweep, intake
submissions, a 10,000-row import and the list's throughput under gunicorn. At agency scale the
pages are measured at small scale too, to show how their cost grows with the data. It prints a
table per database and writes bench/results/<time>-<db>-<scale>.json. It exits non-zero when a
page or job failed or a page's query count was not constant (the CI smoke run's check); missed
timing targets are reported, never an error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bench import jobs, load
from bench.app import PageError, bench_app
from bench.datasets import KINDS, Dataset, ensure_dataset, working_copy
from bench.explain import describe
from bench.fixtures import read_fixture
from bench.pages import PAGE_NAMES, PAGES, PageRunner
from bench.report import all_figures, figures_json, table
from bench.weekly import measure_weekly
from crm.config import PROJECT_ROOT
from crm.core.clock import set_clock

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
JOBS = ("weekly", "sweep", "intake", "import", "throughput")
MEASUREMENTS = (*PAGE_NAMES, *JOBS)
COMPARED_SCALE = "small"  # the agency scale's pages are measured at this scale too


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default=os.environ.get("BENCH_SCALE") or "agency",
                        choices=("agency", "small"))
    parser.add_argument("--db", default=os.environ.get("BENCH_DB") or "sqlite",
                        choices=(*KINDS, "both"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", type=lambda text: [name for name in text.split(",") if name],
                        help="comma-separated: " + ",".join(MEASUREMENTS))
    parser.add_argument("--explain", action="store_true",
                        help="print each page's slowest SQL statement and its query plan")
    parser.add_argument("--profile", action="store_true",
                        help="print where each page's time goes (cProfile, after measuring)")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick run for CI: fewer requests, a smaller import, 3 s of load")
    parser.add_argument("--requests", type=int, help="measured requests per page")
    parser.add_argument("--no-compare", action="store_true",
                        help="at agency scale, skip the pages at small scale")
    parser.add_argument("--database-url", help="measure this database (a copy of it) instead "
                        "of generated data; needs --password and --now")
    parser.add_argument("--password", help="the staff's password (default: the generator's)")
    parser.add_argument("--now", type=datetime.fromisoformat,
                        help="the app's clock (default: the generator's BENCH_NOW)")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s) {', '.join(sorted(unknown))}; "
                     f"known: {', '.join(MEASUREMENTS)}")
    # The small scale alone has 2 minutes in all, its generation included.
    args.requests = args.requests or (20 if args.smoke else 100 if args.scale == "small" else 200)
    return args


class Run:
    """One measurement run of one data set, on a copy of it."""

    def __init__(self, args: argparse.Namespace, dataset: Dataset, now: datetime,
                 password: str, wanted: set[str]) -> None:
        self.args = args
        self.dataset = dataset
        self.now = now
        self.password = password
        self.wanted = wanted
        self.failures: list[str] = []

    def measure(self) -> dict[str, Any]:
        # Other work on the machine slows every figure: the load average tells how much there was.
        results: dict[str, Any] = {"load_average_before": os.getloadavg()}
        tag = f"{self.dataset.scale}_{self.dataset.kind}"
        with tempfile.TemporaryDirectory(prefix="landing-bench-") as folder, \
                working_copy(self.dataset.url, tag) as url:
            work_dir = Path(folder)
            set_clock(lambda: self.now)
            app = bench_app(url, work_dir)
            engine = app.extensions["db_engine"]
            try:
                with app.app_context(), Session(engine) as db:
                    fixture = read_fixture(db, self.dataset.summary)
                results["startups"] = fixture.startups
                self._pages(app, fixture, results)
                steps: list[tuple[str, Callable[[], Any]]] = [
                    ("weekly", lambda: measure_weekly(url, self.now, self._runs(5, 2), work_dir)),
                    ("sweep", lambda: jobs.measure_sweep(app, self.now)),
                    ("intake", lambda: jobs.measure_intake(app, self.now, self._runs(20, 4))),
                    ("import", lambda: jobs.measure_import(app, self._runs(10_000, 1_000))),
                    ("throughput", lambda: self._throughput(url, fixture.bd_manager, work_dir)),
                ]
                for name, step in steps:
                    if name in self.wanted:
                        self._step(name, step, results)
            finally:
                engine.dispose()
                set_clock(None)
        results["load_average_after"] = os.getloadavg()
        return results

    def _runs(self, full: int, smoke: int) -> int:
        return smoke if self.args.smoke else full

    def _step(self, name: str, step: Callable[[], Any], results: dict[str, Any]) -> None:
        log(f"  {self.dataset.label}: {name}…")
        try:
            results[name] = step()
        except Exception as error:  # one failed measurement must not hide the others
            self.failures.append(f"{self.dataset.label} {name}: {error}")
            log(traceback.format_exc() if not isinstance(error, PageError) else str(error))

    def _pages(self, app, fixture, results: dict[str, Any]) -> None:
        runner = PageRunner(app, fixture, self.password)
        measured = {}
        for page in PAGES:
            if page.name not in self.wanted:
                continue
            log(f"  {self.dataset.label}: {page.name}…")
            try:
                result = runner.measure(page, self.args.requests)
            except PageError as error:
                self.failures.append(f"{self.dataset.label} {page.name}: {error}")
                log(str(error))
                continue
            if not result.constant_queries:
                self.failures.append(f"{self.dataset.label} {page.name}: the query count varies "
                                     f"between requests: {result.query_counts}")
            measured[page.name] = result.as_json()
            if self.args.explain:
                print(describe(app.extensions["db_engine"], f"{self.dataset.label} {page.title}",
                               result.slowest), flush=True)
            if self.args.profile:
                print(f"── {self.dataset.label} {page.title}: profile\n{runner.profile(page)}",
                      flush=True)
        if measured:
            results["pages"] = measured

    def _throughput(self, url: str, email: str, work_dir: Path) -> dict[str, Any]:
        missing = load.wrk_missing()
        if missing:
            return {"skipped": missing}
        return load.measure_throughput(url, email, self.password, self._runs(10, 3), work_dir)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    meminfo, cpuinfo = Path("/proc/meminfo"), Path("/proc/cpuinfo")  # Linux; elsewhere None
    memory = next((line.split()[1] for line in meminfo.read_text().splitlines()
                   if line.startswith("MemTotal")), None) if meminfo.exists() else None
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), None) if cpuinfo.exists() else None
    return {"cpus": os.cpu_count(), "cpu": cpu,
            "memory_gib": round(int(memory) / 2**20, 1) if memory else None,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform()}


def code_version() -> dict[str, Any]:
    """The commit measured, and the app's files that differed from it (a shared work tree)."""
    def git(*args: str) -> str:
        command = ["git", *args]
        finished = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True,  # noqa: S603
                                  check=False)
        return finished.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "crm", "templates",
                               "migrations").splitlines()}


def server_version(url: str) -> str:
    from sqlalchemy import create_engine

    if make_url(url).get_backend_name() == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return "PostgreSQL " + connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()


def datasets(args: argparse.Namespace, kind: str) -> tuple[Dataset, Dataset | None]:
    """The data set to measure and, at agency scale, the small one to compare its pages with."""
    if args.database_url:
        return Dataset(kind, "custom", args.seed, args.database_url, {}, None), None
    main = ensure_dataset(kind, args.scale, args.seed, log)
    if args.scale == COMPARED_SCALE or args.no_compare:
        return main, None
    return main, ensure_dataset(kind, COMPARED_SCALE, args.seed, log)


def generator_defaults(args: argparse.Namespace) -> tuple[datetime, str]:
    if args.now and args.password:
        return args.now, args.password
    from bench.generate import BENCH_NOW, BENCH_PASSWORD

    return args.now or BENCH_NOW, args.password or BENCH_PASSWORD


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    now, password = generator_defaults(args)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    wanted = set(args.only or MEASUREMENTS)
    if args.database_url:
        kinds = [make_url(args.database_url).get_backend_name()]
    else:
        kinds = list(KINDS) if args.db == "both" else [args.db]
    failures: list[str] = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for kind in kinds:
        try:
            dataset, compared = datasets(args, kind)
        except OperationalError as error:
            log(f"cannot reach the {kind} database ({error.orig}); for PostgreSQL start it or "
                "set TEST_DATABASE_URL to a server whose user may create databases")
            return 2
        log(f"measuring {dataset.label} ({args.requests} requests per page)…")
        run = Run(args, dataset, now, password, wanted)
        results = run.measure()
        small_pages = None
        if compared is not None and wanted & set(PAGE_NAMES):
            log(f"measuring the pages at {compared.label} to compare…")
            small = Run(args, compared, now, password, wanted & set(PAGE_NAMES))
            small_pages = small.measure().get("pages")
            run.failures += small.failures
        failures += run.failures
        figures = all_figures(results, small_pages)
        title = (f"Landing Desk benchmark: {server_version(dataset.url)}, {dataset.scale} scale "
                 f"({results.get('startups', 0):,} startups), {os.cpu_count()} CPUs, load "
                 f"average {results['load_average_before'][0]:.1f} before and "
                 f"{results['load_average_after'][0]:.1f} after")
        print("\n" + table(title, figures) + "\n", flush=True)
        path = RESULTS_DIR / f"{stamp}-{kind}-{dataset.scale}.json"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "measured_at": stamp, "database": server_version(dataset.url),
            "scale": dataset.scale, "seed": dataset.seed, "now": now.isoformat(),
            "requests_per_page": args.requests, "smoke": args.smoke, "machine": machine(),
            "code": code_version(),
            "dataset": {"summary": dataset.summary,
                        "generated_seconds": dataset.generated_seconds},
            "figures": figures_json(figures), "results": results,
            "small_scale_pages": small_pages, "failures": run.failures,
        }, indent=2, default=str))
        log(f"written: {path.relative_to(PROJECT_ROOT)}")
    for failure in failures:
        log(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
