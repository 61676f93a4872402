"""Report periods: half-open spans of local days (ISO weeks, date ranges) held as UTC moments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = timedelta(days=7)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The local midnight that starts `day`, in UTC (its UTC hour follows summer time)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; both ends are local midnights of the zone named `tz_name`."""

    start: datetime
    end: datetime
    tz_name: str = "UTC"

    @classmethod
    def of_days(cls, first: date, last: date, tz_name: str) -> Period:
        """From the start of local day `first` to the end of local day `last` (inclusive)."""
        zone = ZoneInfo(tz_name)
        return cls(_local_midnight(first, zone), _local_midnight(last + timedelta(days=1), zone),
                   tz_name)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.zone).date()

    @property
    def last_day(self) -> date:
        """The last local day in the period (the end is the midnight after it)."""
        return self.end.astimezone(self.zone).date() - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """As many local days, just before this period (the week before a week)."""
        return Period.of_days(self.first_day - timedelta(days=self.days),
                              self.first_day - timedelta(days=1), self.tz_name)

    def weeks(self) -> list[Period]:
        """The ISO weeks this period touches, each cut to the period, in order."""
        monday = self.first_day - timedelta(days=self.first_day.weekday())
        weeks = []
        while monday <= self.last_day:
            first, last = max(monday, self.first_day), min(monday + timedelta(days=6),
                                                           self.last_day)
            weeks.append(Period.of_days(first, last, self.tz_name))
            monday += _WEEK
        return weeks

    @property
    def iso_week(self) -> tuple[int, int]:
        """(ISO year, week number) of the period's first day."""
        year, week, _ = self.first_day.isocalendar()
        return year, week

    @property
    def week_name(self) -> str:
        """The ISO week of the first day as in URLs and files: "2026-W07"."""
        return "{}-W{:02d}".format(*self.iso_week)


def iso_week(year: int, week: int, tz_name: str) -> Period:
    """Monday 00:00 to the next Monday 00:00, local time; ValueError for a week that is not."""
    monday = date.fromisocalendar(year, week, 1)
    return Period.of_days(monday, monday + timedelta(days=6), tz_name)


def week_of(moment: datetime, tz_name: str) -> Period:
    """The ISO week (local time) that `moment` falls in."""
    year, week, _ = moment.astimezone(ZoneInfo(tz_name)).isocalendar()
    return iso_week(year, week, tz_name)


def last_weeks(period: Period, count: int) -> Period:
    """The `count` whole ISO weeks that end with the week of the period's last day."""
    sunday = period.last_day + timedelta(days=6 - period.last_day.weekday())
    return Period.of_days(sunday - timedelta(days=7 * count - 1), sunday, period.tz_name)
