"""The benchmark's fixed "now", and moments as whole seconds written the way databases read them.

The generator keeps every moment as whole seconds since the epoch (UTC) and writes it as
`YYYY-MM-DD HH:MM:SS.ffffff`: the text SQLAlchemy stores in SQLite, and what PostgreSQL reads
into a `timestamptz` in a session whose time zone is UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: The moment the data is generated for; the runner sets the app's clock to it.
BENCH_NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOW = int(BENCH_NOW.timestamp())
MINUTE, HOUR, DAY = 60, 3600, 86_400


def stamp(moment: int | None) -> str | None:
    """A moment as a timestamp literal (UTC, no zone), or None."""
    if moment is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(moment))
