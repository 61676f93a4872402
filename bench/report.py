"""The issue's targets, each figure held against its target, and the printed table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.pages import PAGES

#: p95 targets in ms (the three list variants are "the list").
PAGE_P95_MS = {"list": 50, "list_filtered": 50, "list_deep": 50, "list_search": 100,
               "board": 50, "startup": 30, "my_work": 50}
#: Pages whose p95 at agency scale may be at most GROWTH_MAX × their p95 at small scale.
GROWTH_PAGES = ("list", "board", "startup")
GROWTH_MAX = 2.0
MAX_QUERIES = 12
WEEKLY_MS, WEEKLY_FLOOR_RATIO, WEEKLY_RSS_MB = 1500, 3.0, 300
SWEEP_FIRST_MS, SWEEP_AGAIN_MS = 2000, 500
IMPORT_DRY_RUN_MS, IMPORT_COMMIT_MS = 10_000, 30_000
THROUGHPUT_MIN = 600


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str = ""
    met: bool | None = None  # None: no target, reported only

    @property
    def verdict(self) -> str:
        return "" if self.met is None else "met" if self.met else "MISSED"


def _at_most(value: float, limit: float) -> bool:
    return value <= limit


def page_figures(pages: dict[str, Any], small: dict[str, Any] | None) -> list[Figure]:
    found = []
    titles = {page.name: page.title for page in PAGES}
    for name, page in pages.items():
        title = titles[name]
        limit = PAGE_P95_MS.get(name)
        found.append(Figure(
            f"{title}: p95", f"{page['p95']:.1f} ms (p50 {page['p50']:.1f} of which SQL "
            f"{page['sql_p50']:.1f}, max {page['max']:.1f}, n {page['n']})",
            f"≤ {limit} ms" if limit else "", _at_most(page["p95"], limit) if limit else None))
        found.append(_query_figure(title, page["queries"],
                                   small[name]["queries"] if small and name in small else None))
        if small and name in small:
            growth = page["p95"] / small[name]["p95"] if small[name]["p95"] else float("inf")
            checked = name in GROWTH_PAGES
            found.append(Figure(
                f"{title}: p95 vs 1,000 startups", f"{growth:.2f}× ({small[name]['p95']:.1f} ms "
                "at small scale)", f"≤ {GROWTH_MAX:g}×" if checked else "",
                _at_most(growth, GROWTH_MAX) if checked else None))
    return found


def _query_figure(title: str, counts: list[int], small_counts: list[int] | None) -> Figure:
    value = " / ".join(map(str, counts)) + (" (varies!)" if len(counts) > 1 else "")
    met = len(counts) == 1 and counts[0] <= MAX_QUERIES
    if small_counts is not None:
        value += f"; {' / '.join(map(str, small_counts))} at small scale"
        met = met and small_counts == counts
    return Figure(f"{title}: SQL queries", value, f"constant, ≤ {MAX_QUERIES}", met)


def weekly_figures(weekly: dict[str, Any]) -> list[Figure]:
    report, floor = weekly["report"], weekly["floor"]
    ratio = weekly["ratio"]
    return [
        Figure("Weekly report (manager): compile", f"{report['p50']:.0f} ms (max "
               f"{report['max']:.0f}, n {report['n']}, {report['queries']} queries, week "
               f"{report['week']})",
               f"≤ {WEEKLY_MS} ms", _at_most(report["p50"], WEEKLY_MS)),
        Figure("Weekly report: hand-written SQL floor", f"{floor['p50']:.0f} ms (max "
               f"{floor['max']:.0f})" + ("" if weekly["floor_matches_report"] else
                                         f"; differs in {', '.join(weekly['differences'])}")),
        Figure("Weekly report: compile ÷ floor", f"{ratio:.2f}×" if ratio else "–",
               f"≤ {WEEKLY_FLOOR_RATIO:g}×",
               _at_most(ratio, WEEKLY_FLOOR_RATIO) if ratio else None),
        Figure("Weekly report: peak memory (process RSS)",
               f"{report['max_rss_mb']:.0f} MB (app loaded: {report['baseline_rss_mb']:.0f} MB; "
               f"Python peak while compiling {report['python_peak_mb']:.1f} MB; floor process "
               f"{floor['max_rss_mb']:.0f} MB)", f"≤ {WEEKLY_RSS_MB} MB",
               _at_most(report["max_rss_mb"], WEEKLY_RSS_MB)),
    ]


def sweep_figures(sweep: dict[str, Any]) -> list[Figure]:
    return [
        Figure("Reminder sweep: first run", f"{sweep['first_ms']:.0f} ms ({sweep['first']}; "
               f"{sweep['first_queries']:,} queries, {sweep['first_sql_ms']:.0f} ms in the "
               "database)",
               f"≤ {SWEEP_FIRST_MS} ms", _at_most(sweep["first_ms"], SWEEP_FIRST_MS)),
        Figure("Reminder sweep: next run, sending the rest", f"{sweep['next_ms']:.0f} ms "
               f"({sweep['next']}; {sweep['sweeps_to_drain']} more sweeps to send the rest)"),
        Figure("Reminder sweep: run again, nothing new", f"{sweep['again_ms']:.0f} ms "
               f"({sweep['again']})", f"≤ {SWEEP_AGAIN_MS} ms",
               _at_most(sweep["again_ms"], SWEEP_AGAIN_MS)),
    ]


def intake_figures(intake: dict[str, Any]) -> list[Figure]:
    path, submit = intake["path"], intake["submit"]
    return [
        Figure("Intake: start to submit (7 requests)", f"p50 {path['p50']:.0f} ms, max "
               f"{path['max']:.0f} ms (n {path['n']}, {intake['programme']})"),
        Figure("Intake: the submit (match or create, enroll)", f"p50 {submit['p50']:.0f} ms, "
               f"max {submit['max']:.0f} ms; SQL {' / '.join(map(str, intake['submit_queries']))}"),
    ]


def import_figures(imported: dict[str, Any]) -> list[Figure]:
    done = imported["done"]
    rows = f"{imported['rows']:,} rows"
    outcome = (f"{done['created']:,} created, {done['updated']:,} updated, "
               f"{done['duplicates']:,} probable duplicates, {done['errors']:,} with errors")
    return [
        Figure(f"Import {rows}: dry run", f"{imported['dry_run_ms'] / 1000:.1f} s "
               f"({imported['dry_run_queries']:,} queries, "
               f"{imported['dry_run_sql_ms'] / 1000:.1f} s in the database)",
               f"≤ {IMPORT_DRY_RUN_MS // 1000} s", _at_most(imported["dry_run_ms"],
                                                           IMPORT_DRY_RUN_MS)),
        Figure(f"Import {rows}: commit", f"{imported['commit_ms'] / 1000:.1f} s ({outcome}; "
               f"{imported['commit_queries']:,} queries, "
               f"{imported['commit_sql_ms'] / 1000:.1f} s in the database)",
               f"≤ {IMPORT_COMMIT_MS // 1000} s", _at_most(imported["commit_ms"],
                                                          IMPORT_COMMIT_MS)),
    ]


def throughput_figures(load: dict[str, Any]) -> list[Figure]:
    if "skipped" in load:
        return [Figure("List throughput (gunicorn, 2 workers)", f"not measured: {load['skipped']}",
                       f"≥ {THROUGHPUT_MIN} req/s")]
    listing, hello = load["list"]["requests_per_second"], load["hello"]["requests_per_second"]
    errors = "; answers not 200: " + ", ".join(f"{k} ×{v}" for k, v in load["not_200"].items()) \
        if load["not_200"] else ""
    return [
        Figure("List throughput (gunicorn, 2 workers, page cache)", f"{listing:.0f} req/s "
               f"({load['settings']}){errors}", f"≥ {THROUGHPUT_MIN} req/s",
               listing >= THROUGHPUT_MIN and not load["not_200"]),
        Figure("Hello world, same server", f"{hello:.0f} req/s; list ÷ hello = "
               f"{load['ratio']:.2f}" if load["ratio"] is not None else f"{hello:.0f} req/s"),
        Figure("List throughput, page cache off",
               f"{load['list_uncached']['requests_per_second']:.0f} req/s"),
    ]


def all_figures(results: dict[str, Any], small_pages: dict[str, Any] | None) -> list[Figure]:
    found = page_figures(results.get("pages", {}), small_pages)
    for key, make in (("weekly", weekly_figures), ("sweep", sweep_figures),
                      ("intake", intake_figures), ("import", import_figures),
                      ("throughput", throughput_figures)):
        if key in results:
            found.extend(make(results[key]))
    return found


def table(title: str, figures: list[Figure]) -> str:
    width = max((len(figure.name) for figure in figures), default=10)
    target_width = max((len(figure.target) for figure in figures), default=6)
    lines = [title, "=" * len(title)]
    for figure in figures:
        lines.append(f"{figure.name:<{width}}  {figure.target:<{target_width}}  "
                     f"{figure.verdict:<6}  {figure.value}")
    return "\n".join(lines)


def figures_json(figures: list[Figure]) -> list[dict[str, Any]]:
    return [asdict(figure) for figure in figures]
