"""Timing and SQL accounting: percentiles of samples, the statements each request runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


def percentile(samples: list[float], percent: float) -> float:
    """Nearest rank: the value at rank ceil(percent/100 × n) of the sorted samples."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class Stats:
    """Milliseconds: the median, the 95th percentile and the slowest of n samples."""

    n: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of_seconds(cls, samples: list[float]) -> Stats:
        millis = [sample * 1000 for sample in samples]
        return cls(len(millis), round(percentile(millis, 50), 2),
                   round(percentile(millis, 95), 2), round(max(millis), 2))


@dataclass
class Statement:
    """One SQL statement as the driver received it, and how long the database took."""

    sql: str
    parameters: Any
    seconds: float


@dataclass
class StatementTotals:
    """One statement text over all requests of a page: how often, how long in all."""

    sql: str
    count: int = 0
    seconds: float = 0.0
    slowest: Statement | None = None

    def add(self, statement: Statement) -> None:
        self.count += 1
        self.seconds += statement.seconds
        if self.slowest is None or statement.seconds > self.slowest.seconds:
            self.slowest = statement

    def as_json(self) -> dict[str, Any]:
        return {"sql": self.sql, "count": self.count,
                "avg_ms": round(self.seconds * 1000 / self.count, 3),
                "max_ms": round(self.slowest.seconds * 1000, 3) if self.slowest else None}


class QueryLog:
    """Records every statement an engine runs while `recording()` is open.

    Listens on before/after_cursor_execute, so it counts what reaches the database: one entry
    per execute (an executemany counts once), with the time the driver spent on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[Statement] = []
        self._started: list[float] = []
        self._active = False

    def _before(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if self._active:
            self._started.append(time.perf_counter())

    def _after(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if self._active and self._started:
            seconds = time.perf_counter() - self._started.pop()
            self.statements.append(Statement(statement, parameters, seconds))

    def __enter__(self) -> QueryLog:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    @contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        """The statements run inside the block (a fresh list each time)."""
        self.statements, self._started, self._active = [], [], True
        try:
            yield self.statements
        finally:
            self._active = False


@dataclass
class Timed:
    """Wall-clock seconds of repeated runs of one operation."""

    seconds: list[float] = field(default_factory=list)

    def run(self, operation: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = operation()
        self.seconds.append(time.perf_counter() - started)
        return result

    @property
    def stats(self) -> Stats:
        return Stats.of_seconds(self.seconds)
