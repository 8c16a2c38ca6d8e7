"""The helpers every detector shares: a usage record read at its hourly rate
(``core.metering``), money projected over a stated horizon (``core.projection``) and weekly
rhythms by local hour of the week (``core.weekly``)."""

from __future__ import annotations

import pytest

from streamwatch.core.metering import (
    add_by_hour,
    dump_by_hour,
    hourly_share,
    hours_covered,
    last_hour_ms,
    load_by_hour,
)
from streamwatch.core.projection import project
from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms
from streamwatch.core.weekly import WEEK_H, WeeklyMemory, local_hours, zone_name

MONDAY = parse_ts_ms("2026-10-05T00:00:00Z")


@pytest.mark.parametrize(
    ("amount", "interval_s", "share", "hours"),
    [
        (195.0, 86_400, 195.0 / 24, 24),
        (3.0, 3600, 3.0, 1),
        (1.0, 300, 1.0, 1),  # five minutes: whole in its hour, to add up with the others
        (10.0, 7200, 5.0, 2),
        (7.0, 5400, 7.0 * 3600 / 5400, 2),
    ],
    ids=["day", "hour", "five-minutes", "two-hours", "ninety-minutes"],
)
def test_a_record_is_read_at_its_rate_over_the_hours_it_covers(
    amount: float, interval_s: int, share: float, hours: int
) -> None:
    assert hourly_share(amount, interval_s) == pytest.approx(share)
    assert hours_covered(interval_s) == hours


def test_amounts_by_hour_are_written_as_one_run_and_read_back() -> None:
    by_hour = {493_830: 2_500_000, 493_828: 1_000_000, 493_833: 7}
    dumped = dump_by_hour(by_hour)
    assert dumped == [493_828, 1_000_000, 0, 2_500_000, 0, 0, 7]
    assert load_by_hour(dumped) == by_hour
    assert dump_by_hour({}) == []
    assert load_by_hour([]) == {}


def test_hours_kept_by_hour_forget_those_left_behind_and_stay_in_order() -> None:
    by_hour: dict[int, int] = {}
    assert add_by_hour(by_hour, 100, 5, cap=1_000, keep_h=3) == ()
    assert add_by_hour(by_hour, 100, 2_000, cap=1_000, keep_h=3) == ()
    assert by_hour == {100: 1_000}  # capped
    for hour in (101, 102, 103):
        assert add_by_hour(by_hour, hour, 1, cap=1_000, keep_h=3) == ()
    # A new newest hour forgets those more than keep_h behind it, and says which.
    assert add_by_hour(by_hour, 105, 1, cap=1_000, keep_h=3) == (100, 101)
    # A late hour is kept, in hour order, until a newer hour is added.
    assert add_by_hour(by_hour, 104, 9, cap=1_000, keep_h=3) == ()
    assert add_by_hour(by_hour, 100, 9, cap=1_000, keep_h=3) == ()
    assert list(by_hour) == [100, 102, 103, 104, 105]
    assert by_hour[104] == 9
    assert add_by_hour(by_hour, 106, 1, cap=1_000, keep_h=3) == (100, 102)
    assert add_by_hour(by_hour, 110, 1, cap=1_000, keep_h=3) == (103, 104, 105, 106)
    assert by_hour == {110: 1}


def test_the_last_hour_of_a_daily_record_is_the_days_last() -> None:
    assert last_hour_ms(MONDAY, 86_400) == MONDAY + 23 * MS_PER_HOUR
    assert last_hour_ms(MONDAY + 1000, 3600) == MONDAY  # an hour or less: its own hour


@pytest.mark.parametrize(
    ("observed_h", "until_h", "horizon_h"),
    [(1, 710, 24), (240, 504, 240), (100, 30, 30), (0.2, 700, 24)],
    ids=["one-hour", "as-long-as-observed", "never-past-the-invoice", "under-an-hour"],
)
def test_a_projection_never_reaches_further_than_was_observed(
    observed_h: float, until_h: float, horizon_h: float
) -> None:
    ahead = project(60.0 * max(observed_h, 1), observed_h, until_h)
    assert ahead.horizon_h == horizon_h
    assert ahead.rate_per_h == pytest.approx(60.0)
    assert ahead.amount == pytest.approx(60.0 * horizon_h)
    assert ahead.method("USD").startswith("rate $60.00/h observed over ")


def test_local_hours_follow_daylight_saving_time() -> None:
    # 01:00 in Berlin on Sundays either side of the change of 25 October 2026 (at 01:00 UTC).
    before = parse_ts_ms("2026-10-17T23:00:00Z")
    after = parse_ts_ms("2026-11-01T00:00:00Z")
    assert local_hours(before, "Europe/Berlin") % WEEK_H == 6 * 24 + 1
    assert local_hours(after, "Europe/Berlin") % WEEK_H == 6 * 24 + 1
    assert local_hours(after, None) % WEEK_H == 6 * 24  # UTC: Sunday 00:00


def test_an_unknown_time_zone_is_none() -> None:
    assert zone_name("Europe/Berlin") == "Europe/Berlin"
    assert zone_name("Mars/Olympus") is None
    assert zone_name(3) is None


def test_a_short_job_is_a_rhythm_from_its_first_repeat() -> None:
    memory = WeeklyMemory()
    sunday_1 = MONDAY + (6 * 24 + 1) * MS_PER_HOUR
    week_ms = WEEK_H * MS_PER_HOUR
    assert memory.usual(sunday_1, None) == 0.0
    memory.note(sunday_1, None, 100.0)
    memory.note(sunday_1 + MS_PER_HOUR, None, 80.0)
    assert memory.usual(sunday_1 + week_ms, None) == 100.0  # a two-hour job, a week later
    assert memory.usual(sunday_1 + week_ms - MS_PER_HOUR, None) == 100.0  # an hour early
    assert memory.usual(sunday_1 + week_ms + 5 * MS_PER_HOUR, None) == 0.0
    assert memory.usual(sunday_1 + 2 * week_ms, None) == 0.0  # a week missed: forgotten
    memory.note(sunday_1 + week_ms, None, 140.0)
    assert memory.usual(sunday_1 + 2 * week_ms, None) == 140.0


def test_a_day_long_incident_must_come_back_two_weeks_running() -> None:
    memory = WeeklyMemory()
    week_ms = WEEK_H * MS_PER_HOUR
    for h in range(24):
        memory.note(MONDAY + h * MS_PER_HOUR, None, 50.0)
    assert memory.usual(MONDAY + week_ms + 12 * MS_PER_HOUR, None) == 0.0  # once is not a rhythm
    for h in range(24):
        memory.note(MONDAY + week_ms + h * MS_PER_HOUR, None, 60.0)
    assert memory.usual(MONDAY + 2 * week_ms + 12 * MS_PER_HOUR, None) == 60.0


def test_a_skipped_week_starts_the_count_again() -> None:
    memory = WeeklyMemory()
    week_ms = WEEK_H * MS_PER_HOUR
    for week in (0, 2):
        for h in range(8):
            memory.note(MONDAY + week * week_ms + h * MS_PER_HOUR, None, 10.0)
    assert memory.usual(MONDAY + 3 * week_ms, None) == 0.0
    assert WeeklyMemory.load(memory.dump()) == memory
