"""Bulk loading into SQLite or PostgreSQL: one transaction, indexes built once at the end.

As PostgreSQL's "Populating a Database" advises, the loaded tables' secondary indexes (and, on
PostgreSQL, their foreign keys) are dropped first and made again from their own definitions
after the rows are in: building an index once is much faster than keeping it up to date row
by row. PostgreSQL takes the rows through COPY; SQLite through `executemany` with
`synchronous=OFF` (the file is only worth anything once the load has finished), its foreign
keys checked at the end with `PRAGMA foreign_key_check`. Then the planner gets statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType

from sqlalchemy import Engine


class BulkLoad:
    """`with BulkLoad(engine, tables) as load: load.write(table, columns, rows)`; commits and
    analyses on a clean exit, rolls back on an error."""

    def __init__(self, engine: Engine, tables: Sequence[str]):
        self.engine = engine
        self.tables = list(tables)
        self.postgres = engine.dialect.name == "postgresql"
        self.written: dict[str, int] = {}

    def __enter__(self) -> BulkLoad:
        self._raw = self.engine.raw_connection()
        self.connection = self._raw.driver_connection
        if self.postgres:
            self._prepare_postgres()
        else:
            self._prepare_sqlite()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _traceback: TracebackType | None) -> None:
        try:
            if kind is not None:
                self.connection.rollback()
            elif self.postgres:
                self._finish_postgres()
            else:
                self._finish_sqlite()
        finally:
            self._raw.close()

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
        count = 0

        def counted():
            nonlocal count
            for row in rows:
                count += 1
                yield row

        names = ", ".join(f'"{column}"' for column in columns)
        if self.postgres:
            with self.connection.cursor() as cursor, cursor.copy(
                    f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in counted():
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 (ours)
            self.connection.executemany(insert, counted())
        self.written[table] = self.written.get(table, 0) + count
        return count

    # SQLite -----------------------------------------------------------------------------

    def _prepare_sqlite(self) -> None:
        connection = self.connection
        connection.isolation_level = None  # BEGIN and COMMIT are ours
        connection.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        self._indexes = [row for row in connection.execute(
            "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' "
            "AND sql IS NOT NULL ORDER BY name").fetchall() if row[2] in self.tables]
        for name, _sql, _table in self._indexes:
            connection.execute(f'DROP INDEX "{name}"')

    def _finish_sqlite(self) -> None:
        connection = self.connection
        for _name, sql, _table in self._indexes:
            connection.execute(sql)
        problems = connection.execute("PRAGMA foreign_key_check").fetchmany(5)
        if problems:
            raise ValueError(f"rows refer to rows that do not exist: {problems}")
        connection.execute("COMMIT")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("ANALYZE")

    # PostgreSQL -------------------------------------------------------------------------

    def _prepare_postgres(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")  # the timestamps are written without zone
            cursor.execute("SET maintenance_work_mem = '256MB'")
            tables = [f'"{table}"' for table in self.tables]
            self._foreign_keys = cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
                "ORDER BY 1, 2", [tables]).fetchall()
            for table, name, _definition in self._foreign_keys:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            # Indexes behind a primary key or unique constraint stay: constraints need them.
            self._indexes = cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) ORDER BY 1",
                [tables]).fetchall()
            for name, _definition in self._indexes:
                cursor.execute(f"DROP INDEX {name}")

    def _finish_postgres(self) -> None:
        with self.connection.cursor() as cursor:
            for _name, definition in self._indexes:
                cursor.execute(definition)
            for table, name, definition in self._foreign_keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            with_ids = cursor.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' "
                "AND table_schema = current_schema() AND table_name = ANY(%s) ORDER BY 1",
                [self.tables]).fetchall()
            for (table,) in with_ids:  # rows came with their ids: move the sequences past them
                move = (f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608 (ours)
                        f'COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM "{table}"')
                cursor.execute(move, [f'"{table}"'])
        self.connection.commit()
        self.connection.autocommit = True
        try:  # VACUUM also sets the visibility map, as autovacuum would have by now
            tables = ", ".join(f'"{table}"' for table in self.tables)
            self.connection.execute(f"VACUUM (ANALYZE) {tables}")
        finally:
            self.connection.autocommit = False
