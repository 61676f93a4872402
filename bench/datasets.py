"""The benchmark's databases: generated once per kind, scale, seed and schema, then reused;
each run measures a throw-away copy, so what it writes (logins, a sweep, an intake, an import)
never changes the next run's starting point.

SQLite: bench/data/<scale>-<seed>-g<generator version>-<alembic head>.db. PostgreSQL: the
database landing_bench_<scale>_<seed>_g<version>_<head> on TEST_DATABASE_URL's server, else
127.0.0.1:5432 with trust authentication. Beside each, bench/data/<kind>-<name>.json holds the
generator's summary; it is written last, so a database without it (an interrupted generation)
is generated again.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from crm.config import PROJECT_ROOT
from crm.migrate import alembic_config

DATA_DIR = PROJECT_ROOT / "bench" / "data"
SQLITE, POSTGRESQL = "sqlite", "postgresql"
KINDS = (SQLITE, POSTGRESQL)
DEFAULT_POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

#: Raise it when the generator writes different rows: cached data sets are then made again.
GENERATOR_VERSION = 2
Log = Callable[[str], None]


def alembic_head() -> str:
    """The schema the code expects: a new migration means new data."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def postgres_server() -> URL:
    """TEST_DATABASE_URL's server (its maintenance database), or the local default."""
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_SERVER)
    return url.set(database="postgres")


@dataclass(frozen=True)
class Dataset:
    """A generated database ready to measure, and what its generator said about it."""

    kind: str
    scale: str
    seed: int
    url: str
    summary: dict[str, Any]  # rows, seconds, timeline_startup_id, largest_programme
    generated_seconds: float | None  # generated in this run (None: reused)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.scale}"


def ensure_dataset(kind: str, scale: str, seed: int, log: Log) -> Dataset:
    """The dataset of this kind, scale and seed at the current schema, generated if missing."""
    name = f"{scale}-{seed}-g{GENERATOR_VERSION}-{alembic_head()}"
    summary_path = DATA_DIR / f"{kind}-{name}.json"
    url = _url(kind, name)
    if summary_path.exists() and _exists(kind, url):
        return Dataset(kind, scale, seed, url, json.loads(summary_path.read_text()), None)
    _remove_older_schemas(kind, scale, seed, keep=name)
    log(f"generating the {scale} data set (seed {seed}) on {kind}…")
    summary = _generate(kind, url, scale, seed)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    log(f"generated in {summary['seconds']:.0f} s: "
        + ", ".join(f"{table} {count:,}" for table, count in summary["rows"].items()))
    return Dataset(kind, scale, seed, url, summary, summary["seconds"])


def _remove_older_schemas(kind: str, scale: str, seed: int, keep: str) -> None:
    """Data sets of this kind, scale and seed made for an older schema: a gigabyte each."""
    for summary in DATA_DIR.glob(f"{kind}-{scale}-{seed}-*.json"):
        name = summary.stem.removeprefix(f"{kind}-")
        if name == keep:
            continue
        if kind == SQLITE:
            _remove_sqlite(DATA_DIR / f"{name}.db")
        else:
            database = make_url(_url(kind, name)).database
            with _admin() as admin:
                admin.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        summary.unlink()


def _url(kind: str, name: str) -> str:
    if kind == SQLITE:
        return f"sqlite:///{DATA_DIR / name}.db"
    database = "landing_bench_" + name.replace("-", "_")
    return postgres_server().set(database=database).render_as_string(hide_password=False)


def _exists(kind: str, url: str) -> bool:
    database = make_url(url).database
    if kind == SQLITE:
        return Path(database).exists()
    with _admin() as admin:
        return admin.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                             {"name": database}).first() is not None


@contextmanager
def _admin():
    """An autocommit connection to the PostgreSQL server (CREATE and DROP DATABASE)."""
    engine = create_engine(postgres_server(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _generate(kind: str, url: str, scale: str, seed: int) -> dict[str, Any]:
    """Fill a fresh database under a temporary name, then give it its real name, so a
    half-generated database is never taken for a finished one."""
    from bench.generate import SCALES, generate

    final = make_url(url)
    if kind == SQLITE:
        partial = Path(final.database).with_suffix(".partial.db")
        _remove_sqlite(partial)
        partial.parent.mkdir(parents=True, exist_ok=True)
        summary = generate(f"sqlite:///{partial}", SCALES[scale], seed=seed)
        _checkpoint(partial)
        _remove_sqlite(Path(final.database))
        partial.replace(final.database)
    else:
        partial_name = f"{final.database}_partial"
        with _admin() as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{partial_name}" WITH (FORCE)'))
            admin.execute(text(f'CREATE DATABASE "{partial_name}"'))
        partial_url = final.set(database=partial_name).render_as_string(hide_password=False)
        summary = generate(partial_url, SCALES[scale], seed=seed)
        with _admin() as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{final.database}" WITH (FORCE)'))
            admin.execute(text(f'ALTER DATABASE "{partial_name}" RENAME TO "{final.database}"'))
    return _as_dict(summary)


def _as_dict(summary: Any) -> dict[str, Any]:
    values = asdict(summary) if is_dataclass(summary) else dict(vars(summary))
    return {key: value for key, value in values.items() if not key.startswith("_")}


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so copying the file copies everything."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def working_copy(url: str, tag: str) -> Iterator[str]:
    """A copy of the database at `url` for one run, removed afterwards (even on failure)."""
    source = make_url(url)
    if source.get_backend_name() == SQLITE:
        _checkpoint(Path(source.database))
        copy = DATA_DIR / f"run-{os.getpid()}-{tag}.db"
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.database, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            _remove_sqlite(copy)
        return
    name = f"landing_bench_run_{os.getpid()}_{tag}"
    with _admin() as admin:
        admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        # FILE_COPY copies the files at once: much faster than WAL_LOG for gigabytes.
        admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}" '
                           "STRATEGY FILE_COPY"))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
