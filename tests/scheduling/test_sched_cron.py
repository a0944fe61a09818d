"""Pure tick arithmetic: timezones, daylight saving, coalescing (no DuckDB, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from assetflow.scheduling.cron import (
    COALESCE_COUNT_LIMIT,
    DueTick,
    due_tick,
    latest_tick,
    next_tick,
    ticks_between,
)

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_daily_in_seoul_ticks_at_03_local_which_is_18_utc_the_day_before() -> None:
    ticks = ticks_between("0 3 * * *", "Asia/Seoul", utc(2024, 1, 1), utc(2024, 1, 4))
    assert [t.isoformat() for t in ticks] == [
        "2024-01-02T03:00:00+09:00",
        "2024-01-03T03:00:00+09:00",
        "2024-01-04T03:00:00+09:00",
    ]
    assert ticks[0].astimezone(UTC) == utc(2024, 1, 1, 18)


def test_latest_tick_includes_a_tick_exactly_at_now_and_next_is_strictly_after() -> None:
    tick = datetime(2024, 1, 2, 3, tzinfo=SEOUL)
    assert latest_tick("0 3 * * *", "Asia/Seoul", tick) == tick
    assert latest_tick("0 3 * * *", "Asia/Seoul", tick - timedelta(seconds=1)) == tick - timedelta(
        days=1
    )
    assert next_tick("0 3 * * *", "Asia/Seoul", tick) == tick + timedelta(days=1)
    # ``now`` in another timezone is the same instant.
    assert latest_tick("0 3 * * *", "Asia/Seoul", tick.astimezone(UTC)) == tick


def test_spring_forward_a_missing_wall_time_ticks_once_at_the_end_of_the_gap() -> None:
    """02:30 does not exist in New York on 2024-03-10: the tick fires at 03:00 EDT."""
    ticks = ticks_between(
        "30 2 * * *",
        "America/New_York",
        datetime(2024, 3, 8, 12, tzinfo=NEW_YORK),
        datetime(2024, 3, 12, 12, tzinfo=NEW_YORK),
    )
    assert [t.isoformat() for t in ticks] == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]
    # Walking backwards agrees with walking forwards.
    assert latest_tick(
        "30 2 * * *", "America/New_York", datetime(2024, 3, 10, 12, tzinfo=NEW_YORK)
    ) == datetime(2024, 3, 10, 3, tzinfo=NEW_YORK)
    assert latest_tick(
        "30 2 * * *", "America/New_York", datetime(2024, 3, 10, 2, 59, tzinfo=UTC)
    ) == datetime(2024, 3, 9, 2, 30, tzinfo=NEW_YORK)


def test_fall_back_day_ticks_once_for_0230_and_once_for_the_repeated_0130() -> None:
    window = (
        datetime(2024, 11, 1, 12, tzinfo=NEW_YORK),
        datetime(2024, 11, 5, 12, tzinfo=NEW_YORK),
    )
    at_0230 = ticks_between("30 2 * * *", "America/New_York", *window)
    assert [t.isoformat() for t in at_0230] == [
        "2024-11-02T02:30:00-04:00",
        "2024-11-03T02:30:00-05:00",
        "2024-11-04T02:30:00-05:00",
        "2024-11-05T02:30:00-05:00",
    ]
    # 01:30 happens twice on 2024-11-03 (EDT, then EST): it ticks at the first one only.
    at_0130 = ticks_between("30 1 * * *", "America/New_York", *window)
    assert [t.isoformat() for t in at_0130] == [
        "2024-11-02T01:30:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
        "2024-11-05T01:30:00-05:00",
    ]
    # During the repeated hour, the latest tick is still the first 01:30.
    second_0140 = datetime(2024, 11, 3, 1, 40, tzinfo=NEW_YORK, fold=1)
    assert latest_tick("30 1 * * *", "America/New_York", second_0140).isoformat() == (
        "2024-11-03T01:30:00-04:00"
    )
    assert next_tick("30 1 * * *", "America/New_York", second_0140).isoformat() == (
        "2024-11-04T01:30:00-05:00"
    )


def test_every_half_hour_skips_the_second_pass_of_the_repeated_hour() -> None:
    ticks = ticks_between(
        "*/30 * * * *",
        "America/New_York",
        datetime(2024, 11, 3, 0, 15, tzinfo=NEW_YORK),
        datetime(2024, 11, 3, 2, 45, tzinfo=NEW_YORK),
    )
    assert [t.isoformat() for t in ticks] == [
        "2024-11-03T00:30:00-04:00",
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T02:30:00-05:00",
    ]


def test_a_new_schedule_runs_its_latest_past_tick_with_nothing_coalesced() -> None:
    now = datetime(2024, 1, 5, 12, tzinfo=SEOUL)
    assert due_tick("0 3 * * *", "Asia/Seoul", None, now) == DueTick(
        datetime(2024, 1, 5, 3, tzinfo=SEOUL), 0
    )


def test_a_scheduler_down_three_days_runs_the_latest_tick_once_with_two_coalesced() -> None:
    last = datetime(2024, 1, 2, 3, tzinfo=SEOUL)
    now = datetime(2024, 1, 5, 9, tzinfo=SEOUL)
    due = due_tick("0 3 * * *", "Asia/Seoul", last, now)
    assert due == DueTick(datetime(2024, 1, 5, 3, tzinfo=SEOUL), 2)
    # Once that tick is claimed, nothing more is due until the next one.
    assert due is not None
    assert due_tick("0 3 * * *", "Asia/Seoul", due.tick, now) is None
    assert due_tick("0 3 * * *", "Asia/Seoul", due.tick, now + timedelta(days=1)) == DueTick(
        datetime(2024, 1, 6, 3, tzinfo=SEOUL), 0
    )


def test_coalesced_count_stops_at_its_limit() -> None:
    last = utc(2000, 1, 1)
    due = due_tick("* * * * *", "UTC", last, utc(2024, 1, 1))
    assert due is not None and due.tick == utc(2024, 1, 1)
    assert due.coalesced == COALESCE_COUNT_LIMIT


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_tick("0 3 * * *", "UTC", None, datetime(2024, 1, 1))
