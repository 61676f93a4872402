"""SLA due moments for hundreds of thousands of rows: `add_working_days` from a table.

The app's `crm.workflow.calendar.add_working_days` walks day by day; here the working days of
the whole period are listed once (with the app's own `is_working_day`) and a due moment is a
lookup. Moments are whole seconds since the epoch, as the generator keeps them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, time, timedelta

from crm.workflow.calendar import BERLIN, is_working_day

_ONE_DAY = timedelta(days=1)


class WorkingDays:
    """`due(start, days)` equals `add_working_days(start, days)`, in seconds since the epoch."""

    def __init__(self, first: date, last: date):
        days = (first + _ONE_DAY * offset for offset in range((last - first).days + 1))
        self._days = [day for day in days if is_working_day(day)]
        self._due: dict[tuple[date, int], int] = {}

    def local_date(self, moment: int) -> date:
        return datetime.fromtimestamp(moment, BERLIN).date()

    def due(self, start: int, days: int) -> int:
        """Local midnight after the `days`-th working day after start's local date."""
        day = self.local_date(start)
        key = (day, days)
        cached = self._due.get(key)
        if cached is None:
            # Day 0 is the start day if it is a working day; day n the n-th one after it.
            last = (self._days[bisect_left(self._days, day)] if days == 0
                    else self._days[bisect_right(self._days, day) + days - 1])
            midnight = datetime.combine(last + _ONE_DAY, time(0), tzinfo=BERLIN)
            cached = self._due[key] = int(midnight.astimezone(UTC).timestamp())
        return cached
