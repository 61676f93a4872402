"""`--explain`: the query plan of a page's slowest statement, with the values it ran with."""

from __future__ import annotations

from sqlalchemy import Engine

from bench.measure import Statement

_READS = ("select", "with")


def query_plan(engine: Engine, statement: Statement) -> str:
    """EXPLAIN QUERY PLAN on SQLite; on PostgreSQL EXPLAIN (ANALYZE, BUFFERS) for a read (it
    runs the query) and a plain EXPLAIN for a write."""
    dialect = engine.dialect.name
    is_read = statement.sql.lstrip().lower().startswith(_READS)
    if dialect == "sqlite":
        prefix = "EXPLAIN QUERY PLAN "
    elif is_read:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) "
    else:
        prefix = "EXPLAIN "
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(prefix + statement.sql, statement.parameters)
        rows = cursor.fetchall()
    finally:
        connection.rollback()
        connection.close()
    if dialect == "sqlite":  # (id, parent, notused, detail): indent by depth
        depth: dict[int, int] = {0: 0}
        lines = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)
    return "\n".join(row[0] for row in rows)


def describe(engine: Engine, title: str, statement: Statement | None) -> str:
    if statement is None:
        return f"{title}: no SQL"
    return (f"── {title}: slowest statement, {statement.seconds * 1000:.1f} ms\n"
            f"{statement.sql.strip()}\n  parameters: {statement.parameters!r}\n"
            f"{query_plan(engine, statement)}\n")
