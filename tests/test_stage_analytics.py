"""Stage analytics against figures worked out by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count, pairwise

import pytest
from sqlmodel import select

from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Startup
from crm.workflow.analytics import (
    StageConversion,
    StageDurationStats,
    StageStay,
    stage_conversion,
    stage_conversions,
    stage_durations,
    stage_durations_by_programme,
    time_in_stages,
)
from crm.workflow.models import Enrollment, StageEvent

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DAY_S = 86_400
FUNNEL = ["lead", "qualified", "proposal", "won"]

_numbers = count(1)


def _programme(db, key: str = "corridor") -> Programme:
    """A programme and its first version, with only the fields the models require."""
    programme = Programme(key=key, name_en=key.title(), name_de=key.title(), current_version=1)
    db.add(programme)
    db.flush()
    db.add(ProgrammeVersion(programme_id=programme.id, number=1, definition={}, source_text="",
                            checksum=f"analytics-test-{key}"))
    db.commit()
    return programme


def _enrollment(db, programme: Programme, *path: tuple[str, timedelta]) -> Enrollment:
    """A startup enrolled in `programme`, entering each (stage, T0 + offset) in the given order."""
    startup = Startup(name=f"Startup {next(_numbers)}", country="IN")
    db.add(startup)
    db.flush()
    last_stage, last_offset = path[-1] if path else ("lead", timedelta(0))
    version_id = db.exec(
        select(ProgrammeVersion.id).where(ProgrammeVersion.programme_id == programme.id)
    ).one()
    enrollment = Enrollment(startup_id=startup.id, programme_id=programme.id,
                            programme_version_id=version_id, stage=last_stage,
                            stage_entered_at=T0 + last_offset)
    db.add(enrollment)
    db.flush()
    previous: tuple[str, timedelta] | None = None
    for stage, offset in path:
        db.add(StageEvent(
            enrollment_id=enrollment.id,
            from_stage=previous[0] if previous else None,
            to_stage=stage,
            occurred_at=T0 + offset,
            seconds_in_previous_stage=(
                int((offset - previous[1]).total_seconds()) if previous else None
            ),
        ))
        db.flush()  # ids in path order: they break ties between equal timestamps
        previous = (stage, offset)
    db.commit()
    return enrollment


def _qualified_for(db, programme: Programme, days: list[int]) -> None:
    """One enrollment per entry: lead for a day, qualified for `days` days, then proposal."""
    for stay in days:
        _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", DAY),
                    ("proposal", DAY + stay * DAY))


# time_in_stages


def test_time_in_stages_counts_the_current_stay_up_to_now_and_each_return_anew(db):
    programme = _programme(db)
    enrollment = _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", DAY),
                             ("lead", 3 * DAY), ("qualified", 4 * DAY))
    _enrollment(db, programme, ("lead", 0 * DAY), ("won", 2 * DAY))  # someone else's history
    now = T0 + 6 * DAY + 12 * HOUR

    assert time_in_stages(db, enrollment.id, now) == [
        StageStay("lead", T0, T0 + DAY, DAY_S),
        StageStay("qualified", T0 + DAY, T0 + 3 * DAY, 2 * DAY_S),
        StageStay("lead", T0 + 3 * DAY, T0 + 4 * DAY, DAY_S),  # back a stage: a new stay
        StageStay("qualified", T0 + 4 * DAY, None, 2 * DAY_S + 12 * 3600),  # current: to now
    ]


def test_time_in_stages_orders_equal_timestamps_by_id_and_rounds_to_whole_seconds(db):
    programme = _programme(db)
    moved_on = timedelta(hours=2, milliseconds=400)
    enrollment = _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", 0 * DAY),
                             ("proposal", moved_on))

    stays = time_in_stages(db, enrollment.id, T0 + 3 * HOUR)

    # lead: entered and left in the same instant; qualified: 7200.4 s → 7200;
    # proposal: 3 h − 2 h 0.4 s = 3599.6 s → 3600.
    assert [(s.stage, s.seconds) for s in stays] == [
        ("lead", 0), ("qualified", 7200), ("proposal", 3600),
    ]
    assert stays[-1].left_at is None


def test_time_in_stages_without_events_is_empty(db):
    enrollment = _enrollment(db, _programme(db))
    assert time_in_stages(db, enrollment.id, T0) == []
    assert time_in_stages(db, 987_654, T0) == []


# stage_durations


def test_durations_use_the_nearest_rank_median_and_p90(db):
    programme = _programme(db)
    _qualified_for(db, programme, [10, 2, 4, 1, 3])
    other = _programme(db, "other")
    _qualified_for(db, other, [100])  # another programme: not counted

    # lead: five stays of 1 day. qualified: 1, 2, 3, 4, 10 days (n = 5):
    # median at rank ceil(0.5 · 5) = 3 → 3 days; p90 at rank ceil(0.9 · 5) = 5 → 10 days.
    # proposal: only current stays, so no row.
    assert stage_durations(db, programme.id) == [
        StageDurationStats("lead", 5, DAY_S, DAY_S),
        StageDurationStats("qualified", 5, 3 * DAY_S, 10 * DAY_S),
    ]


def test_p90_of_ten_stays_is_the_ninth_not_the_longest(db):
    programme = _programme(db)
    _qualified_for(db, programme, list(range(1, 11)))

    # 1 … 10 days: median at rank ceil(5) = 5 → 5 days; p90 at rank ceil(9) = 9 → 9 days.
    [_, qualified] = stage_durations(db, programme.id)
    assert qualified == StageDurationStats("qualified", 10, 5 * DAY_S, 9 * DAY_S)


def test_going_back_a_stage_and_coming_again_makes_two_stays(db):
    programme = _programme(db)
    _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", DAY), ("lead", 3 * DAY),
                ("qualified", 6 * DAY), ("proposal", 10 * DAY))

    # lead: 1 and 3 days → median rank ceil(1) = 1 → 1 day, p90 rank ceil(1.8) = 2 → 3 days.
    # qualified: 2 and 4 days → median 2 days (the lower middle), p90 4 days.
    assert stage_durations(db, programme.id) == [
        StageDurationStats("lead", 2, DAY_S, 3 * DAY_S),
        StageDurationStats("qualified", 2, 2 * DAY_S, 4 * DAY_S),
    ]


def test_durations_count_only_stays_that_ended_within_since_until(db):
    programme = _programme(db)
    _qualified_for(db, programme, [1, 2, 3, 4, 10])
    # Lead stays end at T0 + 1 day; qualified stays of d days end at T0 + (1 + d) days:
    # 2, 3, 4, 5 and 11 days after T0.

    # [T0 + 3 d, T0 + 5 d): the 2- and 3-day stays (5 d excluded) → median 2 d, p90 3 d.
    assert stage_durations(db, programme.id, since=T0 + 3 * DAY, until=T0 + 5 * DAY) == [
        StageDurationStats("qualified", 2, 2 * DAY_S, 3 * DAY_S),
    ]
    # From T0 + 5 d on: the 4- and 10-day stays.
    assert stage_durations(db, programme.id, since=T0 + 5 * DAY) == [
        StageDurationStats("qualified", 2, 4 * DAY_S, 10 * DAY_S),
    ]
    # Before T0 + 2 d: only the lead stays (the 1-day qualified stay ends at 2 d, excluded).
    assert stage_durations(db, programme.id, until=T0 + 2 * DAY) == [
        StageDurationStats("lead", 5, DAY_S, DAY_S),
    ]


# stage_conversion


def test_conversion_between_consecutive_stages(db):
    programme = _programme(db)
    days = [("lead", 0 * DAY), ("qualified", DAY), ("proposal", 2 * DAY), ("won", 3 * DAY)]
    _enrollment(db, programme, *days)
    _enrollment(db, programme, *days[:3])
    _enrollment(db, programme, *days[:2])
    _enrollment(db, programme, *days[:2], ("lead", 4 * DAY))  # went back: still entered qualified
    _enrollment(db, programme, *days[:1])
    _enrollment(db, programme, ("qualified", 0 * DAY), ("proposal", DAY))  # skipped lead
    _enrollment(db, _programme(db, "other"), *days)  # another programme: not counted

    # lead → qualified: five entered lead, four of them entered qualified.
    # qualified → proposal: five entered qualified (four via lead, one directly), three went on.
    # proposal → won: three entered proposal, one won.
    assert stage_conversion(db, programme.id, FUNNEL) == [
        StageConversion("lead", "qualified", 5, 4, 0.8),
        StageConversion("qualified", "proposal", 5, 3, 0.6),
        StageConversion("proposal", "won", 3, 1, pytest.approx(1 / 3)),
    ]


def test_conversion_counts_the_next_stage_only_after_the_first_entry(db):
    programme = _programme(db)
    _enrollment(db, programme, ("lead", 0 * DAY), ("proposal", DAY), ("qualified", 2 * DAY))
    _enrollment(db, programme, ("qualified", 0 * DAY), ("proposal", DAY), ("qualified", 2 * DAY))
    # Same instant: the order of the events (their ids) decides.
    _enrollment(db, programme, ("proposal", 0 * DAY), ("qualified", 0 * DAY))

    # First: proposal came before qualified → not converted. Second: proposal after its first
    # qualified → converted. Third: qualified after proposal → not converted. 3 entered, 1.
    assert stage_conversion(db, programme.id, ["qualified", "proposal"]) == [
        StageConversion("qualified", "proposal", 3, 1, pytest.approx(1 / 3)),
    ]


def test_conversion_counts_only_entries_within_since_until(db):
    programme = _programme(db)
    _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", 10 * DAY))
    _enrollment(db, programme, ("lead", 5 * DAY), ("qualified", 6 * DAY))

    # [T0 + 4 d, T0 + 8 d): only the second enrollment's entries → 1 of 1.
    assert stage_conversion(db, programme.id, ["lead", "qualified"],
                            since=T0 + 4 * DAY, until=T0 + 8 * DAY) == [
        StageConversion("lead", "qualified", 1, 1, 1.0),
    ]
    # Before T0 + 8 d: both entered lead; the first entered qualified only at 10 d → 1 of 2.
    assert stage_conversion(db, programme.id, ["lead", "qualified"], until=T0 + 8 * DAY) == [
        StageConversion("lead", "qualified", 2, 1, 0.5),
    ]
    # From T0 + 1 d on: lead entered by the second only; it went on → 1 of 1.
    assert stage_conversion(db, programme.id, ["lead", "qualified"], since=T0 + DAY) == [
        StageConversion("lead", "qualified", 1, 1, 1.0),
    ]


def test_several_programmes_in_one_query_give_what_each_gives_alone(db, count_queries):
    corridor, other, empty = _programme(db), _programme(db, "other"), _programme(db, "empty")
    _qualified_for(db, corridor, [10, 2, 4])
    _qualified_for(db, other, [1])
    _enrollment(db, other, ("won", 0 * DAY), ("lead", DAY), ("qualified", 3 * DAY))
    funnels = {corridor.id: FUNNEL, other.id: ["won", "lead", "qualified"], empty.id: FUNNEL}

    with count_queries() as statements:
        durations = stage_durations_by_programme(db, funnels)
        conversions = stage_conversions(db, funnels)
    assert len(statements) == 2, statements
    assert durations == {corridor.id: stage_durations(db, corridor.id),
                         other.id: stage_durations(db, other.id)}
    assert conversions == {pid: stage_conversion(db, pid, keys) for pid, keys in funnels.items()}
    assert conversions[other.id] == [StageConversion("won", "lead", 1, 1, 1.0),
                                     StageConversion("lead", "qualified", 2, 2, 1.0)]


# Empty programmes and the number of queries


def test_an_empty_programme_gives_no_rows_and_no_rates(db):
    programme = _programme(db)
    _enrollment(db, _programme(db, "other"), ("lead", 0 * DAY), ("qualified", DAY))

    assert stage_durations(db, programme.id) == []
    assert stage_durations(db, programme.id, since=T0, until=T0 + DAY) == []
    assert stage_conversion(db, programme.id, FUNNEL) == [
        StageConversion(a, b, 0, 0, None) for a, b in pairwise(FUNNEL)
    ]
    assert stage_conversion(db, programme.id, ["lead"]) == []
    assert stage_conversion(db, programme.id, []) == []


def test_a_programme_with_only_current_stays_has_no_durations(db):
    programme = _programme(db)
    enrollment = _enrollment(db, programme, ("lead", 0 * DAY))

    assert stage_durations(db, programme.id) == []
    assert time_in_stages(db, enrollment.id, T0 + DAY) == [StageStay("lead", T0, None, DAY_S)]


def test_each_figure_is_one_query_however_many_rows(db, count_queries):
    programme = _programme(db)
    _qualified_for(db, programme, list(range(1, 21)))
    enrollment = _enrollment(db, programme, ("lead", 0 * DAY), ("qualified", DAY))

    with count_queries() as statements:
        time_in_stages(db, enrollment.id, T0 + 2 * DAY)
        stage_durations(db, programme.id)
        stage_conversion(db, programme.id, FUNNEL)
    assert len(statements) == 3, statements
