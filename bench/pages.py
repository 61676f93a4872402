"""The pages measured in-process: server time and SQL per request, over varied URLs.

Each page is requested through the WSGI app by Flask's test client (no network, no browser),
as a logged-in user: first once per URL to warm up (templates compiled, caches filled), then
`requests` times round-robin over its URLs. The SQL each request runs is recorded; a page's
query count must be the same for every request (else the run fails).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient

from bench.app import PageError, logged_in
from bench.fixtures import Fixture
from bench.measure import QueryLog, Statement, StatementTotals, Stats


@dataclass(frozen=True)
class Page:
    name: str  # as in --only and the JSON
    title: str
    login: Callable[[Fixture], str]  # whose session
    urls: Callable[[Fixture], list[str]]


def _query(path: str, **args: Any) -> str:
    return f"{path}?{urlencode(args)}" if args else path


def _list_filtered(f: Fixture) -> list[str]:
    return [_query("/", programme=programme, stage=stage, country=country)
            for programme, stage, country in f.programme_stage_countries]


def _board(f: Fixture) -> list[str]:
    base = {"programme": f.largest_programme}
    return [_query("/pipeline/", **base), _query("/pipeline/", **base, owner="me"),
            _query("/pipeline/", **base, overdue="1"),
            *(_query("/pipeline/", **base, country=country) for country in f.countries[:3])]


PAGES: tuple[Page, ...] = (
    Page("list", "Startups list, default", lambda f: f.bd_manager, lambda f: ["/"]),
    Page("list_filtered", "Startups list, programme+stage+country", lambda f: f.bd_manager,
         _list_filtered),
    Page("list_deep", "Startups list, deep page (keyset)", lambda f: f.bd_manager,
         lambda f: [_query("/", after=cursor) for cursor in f.deep_cursors]),
    Page("list_search", "Startups list, name search", lambda f: f.bd_manager,
         lambda f: [_query("/", q=term) for term in f.search_terms]),
    Page("board", "Pipeline board, largest programme", lambda f: f.bd_manager, _board),
    Page("startup", "Startup page, 200 timeline entries", lambda f: f.bd_manager,
         lambda f: [f"/startups/{f.timeline_startup_id}"]),
    Page("my_work", "My work (BD manager)", lambda f: f.bd_manager, lambda f: ["/work/"]),
    Page("outbox", "Outbox page (admin)", lambda f: f.admin,
         lambda f: ["/admin/outbox/",
                    *(_query("/admin/outbox/", status=status) for status in f.outbox_statuses),
                    *(_query("/admin/outbox/", before=before)
                      for before in f.outbox_before_ids)]),
)
PAGE_NAMES = tuple(page.name for page in PAGES)


@dataclass
class PageResult:
    name: str
    title: str
    stats: Stats
    sql_p50: float  # ms the database took in a median request (the rest is Python)
    query_counts: list[int]  # distinct counts seen, ascending: one value when constant
    urls_by_count: dict[int, list[str]]  # which URLs ran each count (to find a varying one)
    statements: dict[str, StatementTotals] = field(repr=False)
    slowest: Statement | None = field(repr=False)  # the slowest single statement seen

    @property
    def constant_queries(self) -> bool:
        return len(self.query_counts) == 1

    def top_sql(self, count: int = 3) -> list[dict[str, Any]]:
        ranked = sorted(self.statements.values(), key=lambda s: s.seconds, reverse=True)
        return [totals.as_json() for totals in ranked[:count]]

    def as_json(self) -> dict[str, Any]:
        found = {"title": self.title, **vars(self.stats), "sql_p50": self.sql_p50,
                 "queries": self.query_counts,
                 "top_sql": self.top_sql()}
        if not self.constant_queries:
            found["urls_by_query_count"] = self.urls_by_count
        return found


class PageRunner:
    """Measures pages of one app; clients are logged in once per user and reused."""

    def __init__(self, app: Flask, fixture: Fixture, password: str) -> None:
        self.app = app
        self.fixture = fixture
        self.password = password
        self._clients: dict[str, FlaskClient] = {}

    def client(self, email: str) -> FlaskClient:
        if email not in self._clients:
            self._clients[email] = logged_in(self.app, email, self.password)
        return self._clients[email]

    def measure(self, page: Page, requests: int) -> PageResult:
        client = self.client(page.login(self.fixture))
        urls = page.urls(self.fixture)
        if not urls:
            raise PageError(f"{page.name}: the data offers nothing to request")
        for url in urls:
            self._get(client, url)
        seconds: list[float] = []
        sql_seconds: list[float] = []
        urls_by_count: dict[int, list[str]] = {}
        totals: dict[str, StatementTotals] = {}
        slowest: Statement | None = None
        with QueryLog(self.app.extensions["db_engine"]) as log:
            for number in range(requests):
                url = urls[number % len(urls)]
                with log.recording() as statements:
                    started = time.perf_counter()
                    self._get(client, url)
                    seconds.append(time.perf_counter() - started)
                sql_seconds.append(sum(statement.seconds for statement in statements))
                seen = urls_by_count.setdefault(len(statements), [])
                if url not in seen:
                    seen.append(url)
                for statement in statements:
                    totals.setdefault(statement.sql, StatementTotals(statement.sql)).add(statement)
                    if slowest is None or statement.seconds > slowest.seconds:
                        slowest = statement
        return PageResult(page.name, page.title, Stats.of_seconds(seconds),
                          Stats.of_seconds(sql_seconds).p50, sorted(urls_by_count),
                          urls_by_count, totals, slowest)

    def profile(self, page: Page, requests: int = 30, lines: int = 30) -> str:
        """Where a page's time goes: cProfile over `requests` more requests, by cumulative
        time (after `measure`, so nothing here is in the figures)."""
        client = self.client(page.login(self.fixture))
        urls = page.urls(self.fixture)
        profiler = cProfile.Profile()
        profiler.enable()
        for number in range(requests):
            self._get(client, urls[number % len(urls)])
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
        return out.getvalue()

    @staticmethod
    def _get(client: FlaskClient, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise PageError(f"GET {url}: {response.status_code}")
