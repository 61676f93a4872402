"""Working days in NRW and SLA due moments: hand-checked holidays, DST, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.workflow.calendar import (
    add_working_days,
    is_working_day,
    next_working_day,
    working_days_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
TINY = timedelta(microseconds=1)


def berlin(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Berlin wall-clock moment as the aware UTC datetime the app stores."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year's Day (Thu)
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # Labour Day (Fri)
        date(2026, 5, 14),  # Ascension (Thu)
        date(2026, 5, 25),  # Whit Monday
        date(2026, 6, 4),  # Corpus Christi (Thu), NRW
        date(2025, 10, 3),  # German Unity Day (Fri; a Saturday in 2026)
        date(2027, 11, 1),  # All Saints' Day (Mon; a Sunday in 2026), NRW
        date(2025, 12, 25),  # Christmas Day (Thu)
        date(2025, 12, 26),  # Second Day of Christmas (Fri)
        date(2027, 1, 1),  # New Year's Day (Fri)
    ],
)
def test_nrw_public_holidays_on_weekdays_are_not_working_days(day):
    assert day.weekday() < 5
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),  # Maundy Thursday: not a public holiday
        date(2026, 4, 7),  # Tuesday after Easter
        date(2025, 12, 24),  # Christmas Eve: a working day by law
        date(2025, 12, 31),  # New Year's Eve
        date(2027, 3, 8),  # Women's Day: a holiday in Berlin, not in NRW
    ],
)
def test_ordinary_weekdays_are_working_days(day):
    assert is_working_day(day)


def test_weekends_are_not_working_days():
    assert not is_working_day(date(2026, 4, 4))  # Saturday
    assert not is_working_day(date(2026, 4, 5))  # Easter Sunday


def test_corpus_christi_is_a_holiday_in_nrw_but_not_in_berlin():
    corpus_christi = date(2026, 6, 4)
    assert corpus_christi in holidays.country_holidays("DE", subdiv="NW", years=2026)
    assert corpus_christi not in holidays.country_holidays("DE", subdiv="BE", years=2026)
    assert not is_working_day(corpus_christi)


def test_is_working_day_rejects_datetimes():
    with pytest.raises(TypeError):
        is_working_day(datetime(2026, 4, 3, tzinfo=UTC))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 4, 2), date(2026, 4, 7)),  # over Good Friday, the weekend, Easter Monday
        (date(2026, 4, 7), date(2026, 4, 8)),
        (date(2026, 4, 4), date(2026, 4, 7)),  # from a Saturday
        (date(2025, 12, 24), date(2025, 12, 29)),  # over Christmas
        (date(2025, 12, 31), date(2026, 1, 2)),  # over New Year, into the next year
    ],
)
def test_next_working_day_is_strictly_after(day, expected):
    assert next_working_day(day) == expected


def test_easter_example_worked_by_hand():
    # Entered Thursday 2 Apr 2026 15:00 Berlin (CEST, UTC+2; 2 Apr 2026 is a Thursday, the day
    # before Good Friday). The start day does not count. Fri 3 Apr is Good Friday, Sat/Sun are
    # the weekend, Mon 6 Apr is Easter Monday. So: 1st working day Tue 7 Apr, 2nd Wed 8 Apr,
    # 3rd Thu 9 Apr. Due at the start of Fri 10 Apr, 00:00 CEST = Thu 9 Apr 22:00 UTC.
    start = berlin(2026, 4, 2, 15)
    assert start == utc(2026, 4, 2, 13)
    due = add_working_days(start, 3)
    assert due == utc(2026, 4, 9, 22)
    assert due.astimezone(BERLIN) == datetime(2026, 4, 10, tzinfo=BERLIN)
    assert due.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Thu 30 Apr + 1: Fri 1 May is Labour Day -> Mon 4 May; due Tue 5 May 00:00 CEST.
        (berlin(2026, 4, 30), 1, utc(2026, 5, 4, 22)),
        # Wed 13 May + 1: Thu 14 May is Ascension -> Fri 15 May; due Sat 16 May 00:00 CEST.
        (berlin(2026, 5, 13), 1, utc(2026, 5, 15, 22)),
        # Fri 22 May + 1: Whit Monday 25 May -> Tue 26 May; due Wed 27 May 00:00 CEST.
        (berlin(2026, 5, 22), 1, utc(2026, 5, 26, 22)),
        # Wed 3 Jun + 1: Corpus Christi Thu 4 Jun -> Fri 5 Jun; due Sat 6 Jun 00:00 CEST.
        (berlin(2026, 6, 3), 1, utc(2026, 6, 5, 22)),
        # Thu 2 Oct 2025 + 1: German Unity Day Fri 3 Oct -> Mon 6 Oct; due Tue 7 Oct 00:00 CEST.
        (berlin(2025, 10, 2), 1, utc(2025, 10, 6, 22)),
        # Fri 29 Oct 2027 + 1: All Saints' Day Mon 1 Nov -> Tue 2 Nov; due Wed 3 Nov 00:00 CET.
        (berlin(2027, 10, 29), 1, utc(2027, 11, 2, 23)),
        # Tue 23 Dec 2025 + 3: Wed 24 Dec (1st), Christmas Thu/Fri, weekend, Mon 29 (2nd),
        # Tue 30 Dec (3rd); due Wed 31 Dec 00:00 CET.
        (berlin(2025, 12, 23), 3, utc(2025, 12, 30, 23)),
        # Tue 30 Dec 2025 + 2: Wed 31 Dec (1st), New Year Thu 1 Jan, Fri 2 Jan 2026 (2nd);
        # due Sat 3 Jan 2026 00:00 CET.
        (berlin(2025, 12, 30), 2, utc(2026, 1, 2, 23)),
    ],
)
def test_due_moments_skip_nrw_holidays(start, days, due):
    assert add_working_days(start, days) == due


def test_due_moment_follows_the_spring_dst_change():
    # Thu 26 Mar 2026 + 1 -> Fri 27 Mar; due Sat 28 Mar 00:00 CET (UTC+1) = 23:00 UTC.
    assert add_working_days(berlin(2026, 3, 26), 1) == utc(2026, 3, 27, 23)
    # Fri 27 Mar + 1: clocks go forward on Sun 29 Mar -> Mon 30 Mar; due Tue 31 Mar
    # 00:00 CEST (UTC+2) = 22:00 UTC.
    assert add_working_days(berlin(2026, 3, 27), 1) == utc(2026, 3, 30, 22)
    # Entered on Sunday 29 Mar itself, days=0 -> end of Mon 30 Mar, same moment.
    assert add_working_days(berlin(2026, 3, 29, 12), 0) == utc(2026, 3, 30, 22)


def test_due_moment_follows_the_autumn_dst_change():
    # Thu 22 Oct 2026 + 1 -> Fri 23 Oct; due Sat 24 Oct 00:00 CEST (UTC+2) = 22:00 UTC.
    assert add_working_days(berlin(2026, 10, 22), 1) == utc(2026, 10, 23, 22)
    # Fri 23 Oct + 1: clocks go back on Sun 25 Oct -> Mon 26 Oct; due Tue 27 Oct
    # 00:00 CET (UTC+1) = 23:00 UTC.
    assert add_working_days(berlin(2026, 10, 23), 1) == utc(2026, 10, 26, 23)


def test_start_date_is_the_local_date_not_the_utc_date():
    # 31 Mar 2026 22:30 UTC is already Wed 1 Apr 00:30 in Berlin: the start day is 1 Apr, so
    # +1 -> Thu 2 Apr; due Fri 3 Apr 00:00 CEST = Thu 2 Apr 22:00 UTC.
    assert add_working_days(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), 1) == utc(2026, 4, 2, 22)


def test_start_in_another_zone_is_read_in_berlin():
    new_york = ZoneInfo("America/New_York")
    # Thu 2 Apr 2026 20:00 in New York is Fri 3 Apr 02:00 in Berlin (Good Friday).
    start = datetime(2026, 4, 2, 20, tzinfo=new_york)
    assert add_working_days(start, 0) == utc(2026, 4, 7, 22)


def test_entered_on_a_saturday_or_a_holiday():
    # Sat 4 Apr and Easter Monday 6 Apr: the 1st working day after either is Tue 7 Apr;
    # due Wed 8 Apr 00:00 CEST = Tue 7 Apr 22:00 UTC.
    assert add_working_days(berlin(2026, 4, 4), 1) == utc(2026, 4, 7, 22)
    assert add_working_days(berlin(2026, 4, 6), 1) == utc(2026, 4, 7, 22)
    # +2 from Good Friday: Tue 7 (1st), Wed 8 (2nd); due Thu 9 Apr 00:00 CEST.
    assert add_working_days(berlin(2026, 4, 3), 2) == utc(2026, 4, 8, 22)


def test_zero_days_ends_the_start_day_or_the_next_working_day():
    # Tue 7 Apr is a working day: due at the end of that same day.
    assert add_working_days(berlin(2026, 4, 7, 9), 0) == utc(2026, 4, 7, 22)
    # Even late in the evening it is still the same local day.
    assert add_working_days(berlin(2026, 4, 7, 23, 59), 0) == utc(2026, 4, 7, 22)
    # Good Friday and Saturday: the end of the next working day, Tue 7 Apr.
    assert add_working_days(berlin(2026, 4, 3), 0) == utc(2026, 4, 7, 22)
    assert add_working_days(berlin(2026, 4, 4), 0) == utc(2026, 4, 7, 22)


def test_naive_start_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 4, 2, 15), 3)


def test_negative_days_are_rejected():
    with pytest.raises(ValueError, match="days"):
        add_working_days(berlin(2026, 4, 2), -1)


def test_working_days_between_by_hand():
    start = berlin(2026, 4, 2, 15)  # Thu before Easter
    # After Thu 2 Apr up to and including Fri 10 Apr: Tue 7, Wed 8, Thu 9, Fri 10.
    assert working_days_between(start, berlin(2026, 4, 10, 8)) == 4
    # Over the Easter weekend nothing counts.
    assert working_days_between(start, berlin(2026, 4, 6, 23)) == 0
    # Same local day, and an end before the start.
    assert working_days_between(start, berlin(2026, 4, 2, 23, 59)) == 0
    assert working_days_between(start, berlin(2026, 3, 1)) == 0
    # Across the year end: Wed 31 Dec 2025 and Fri 2 Jan 2026 (1 Jan is a holiday).
    assert working_days_between(berlin(2025, 12, 30), berlin(2026, 1, 3)) == 2
    # A whole year 2026 in NRW: 261 weekdays minus 8 holidays on weekdays.
    assert working_days_between(berlin(2025, 12, 31), berlin(2026, 12, 31)) == 253


def test_working_days_between_mirrors_the_easter_example():
    start = berlin(2026, 4, 2, 15)
    due = add_working_days(start, 3)
    assert working_days_between(start, due - TINY) == 3


def test_overdue_count_from_a_due_moment():
    # Due at the end of Fri 27 Mar 2026 (Sat 28 Mar 00:00 local).
    due = add_working_days(berlin(2026, 3, 26), 1)
    overdue_from = due - TINY
    assert working_days_between(overdue_from, berlin(2026, 3, 29, 12)) == 0  # Sunday
    assert working_days_between(overdue_from, berlin(2026, 3, 30, 9)) == 1  # Monday
    assert working_days_between(overdue_from, berlin(2026, 3, 31, 9)) == 2  # Tuesday


def test_working_days_between_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_between(datetime(2026, 4, 2), berlin(2026, 4, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_between(berlin(2026, 4, 2), datetime(2026, 4, 10))


ZONES = [UTC, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]


@settings(max_examples=200, deadline=None)
@given(
    naive_start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
    zone=st.sampled_from(ZONES),
    days=st.integers(min_value=0, max_value=40),
)
def test_due_moment_properties(naive_start, zone, days):
    start = naive_start.replace(tzinfo=zone)
    start_day = start.astimezone(BERLIN).date()

    due = add_working_days(start, days)

    assert due.utcoffset() == timedelta(0)
    assert due > start
    local_due = due.astimezone(BERLIN)
    assert (local_due.hour, local_due.minute, local_due.second, local_due.microsecond) == (
        0,
        0,
        0,
        0,
    )
    last_day = local_due.date() - timedelta(days=1)
    assert is_working_day(last_day)
    assert last_day >= start_day
    # The working days after the start date up to the last day are exactly `days`, except
    # that days=0 on a non-working start date stretches to the next working day (1 of them).
    expected = days if days or is_working_day(start_day) else 1
    assert working_days_between(start, due - TINY) == expected
    # One more day always moves the deadline, except from days=0 on a non-working start
    # date, which already means the next working day: the same as days=1.
    if expected == days:
        assert add_working_days(start, days + 1) > due
    else:
        assert add_working_days(start, days + 1) == due
