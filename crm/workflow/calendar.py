"""Working days in North Rhine-Westphalia and the SLA due moments counted in them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

BERLIN = ZoneInfo("Europe/Berlin")
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def _nrw_holidays(year: int) -> frozenset[date]:
    """The public holidays in NRW in one year (built once per year: the library is slow)."""
    return frozenset(holidays.country_holidays("DE", subdiv="NW", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a public holiday in NRW."""
    if isinstance(day, datetime):
        # A datetime never equals a date, so it would slip past the holiday set; and its date
        # depends on the zone it is in. Callers must say which local date they mean.
        raise TypeError("is_working_day takes a date, not a datetime")
    return day.weekday() < 5 and day not in _nrw_holidays(day.year)


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    day += _ONE_DAY
    while not is_working_day(day):
        day += _ONE_DAY
    return day


def _local_date(moment: datetime, tz: ZoneInfo, name: str) -> date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment!r}")
    return moment.astimezone(tz).date()


def add_working_days(start: datetime, days: int, tz: ZoneInfo = BERLIN) -> datetime:
    """The SLA due moment: local midnight at the end of the `days`-th working day after `start`.

    `start` is an aware datetime (UTC by convention; naive raises ValueError) and is read as a
    local date in `tz`. The start date itself never counts: the 1st working day is the first
    working day after it. `days == 0` means the end of the start date if that is a working day,
    otherwise the end of the next working day. The result is 00:00 local time of the day after
    that working day, returned as an aware UTC datetime, so a stage is overdue when
    `now >= due_at`. Negative `days` raise ValueError.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    last = _local_date(start, tz, "start")
    if days == 0:
        if not is_working_day(last):
            last = next_working_day(last)
    else:
        for _ in range(days):
            last = next_working_day(last)
    # Dates are counted locally and midnight is built in `tz`, so the UTC hour follows DST
    # (22:00 UTC in summer, 23:00 UTC in winter for Berlin).
    local_midnight = datetime.combine(last + _ONE_DAY, time(0), tzinfo=tz)
    return local_midnight.astimezone(UTC)


def _weekdays_from_to(first: date, last: date) -> int:
    """How many Mondays to Fridays lie in first..last, both included."""
    span = (last - first).days + 1
    if span <= 0:
        return 0
    weeks, rest = divmod(span, 7)
    start_weekday = first.weekday()
    return weeks * 5 + sum(1 for offset in range(rest) if (start_weekday + offset) % 7 < 5)


def working_days_between(start: datetime, end: datetime, tz: ZoneInfo = BERLIN) -> int:
    """The number of working days D with start's local date < D <= end's local date in `tz`.

    Both moments must be aware (naive raises ValueError); the result is 0 when end's local
    date is not after start's. It mirrors `add_working_days`: for `due = add_working_days(s, n)`
    with n >= 1, `working_days_between(s, due - timedelta(microseconds=1)) == n`.

    For "overdue by N working days", pass the last moment before the deadline as `start`:
    `working_days_between(due_at - timedelta(microseconds=1), now)` counts the working days
    begun since the deadline, today included (1 on the first overdue working day).
    """
    first = _local_date(start, tz, "start") + _ONE_DAY
    last = _local_date(end, tz, "end")
    if last < first:
        return 0
    holidays_on_weekdays = sum(
        1
        for year in range(first.year, last.year + 1)
        for holiday in _nrw_holidays(year)
        if first <= holiday <= last and holiday.weekday() < 5
    )
    return _weekdays_from_to(first, last) - holidays_on_weekdays
