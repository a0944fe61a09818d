"""Pure tick arithmetic: timezones, daylight saving, coalescing (no DuckDB, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assetflow.config.fields import validate_cron
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


# --- Expressions that never fire are refused at load (issue 13, item 11) -----------------------

# A field as cron text and the values it stands for (the test's own reading, not croniter's).
Field = tuple[str, frozenset[int]]


def _field(low: int, high: int, likely: tuple[int, ...]) -> st.SearchStrategy[Field]:
    """``likely`` values come up more often: the days and months that make a cron never fire."""
    every = st.just(("*", frozenset(range(low, high + 1))))
    values = st.one_of(st.sampled_from(likely), st.integers(low, high))
    one = values.map(lambda v: (str(v), frozenset({v})))
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(sorted)
    ranged = span.map(lambda ab: (f"{ab[0]}-{ab[1]}", frozenset(range(ab[0], ab[1] + 1))))
    stepped = st.integers(2, 12).map(lambda n: (f"*/{n}", frozenset(range(low, high + 1, n))))
    listed = st.lists(values, min_size=2, max_size=3, unique=True).map(
        lambda vs: (",".join(map(str, vs)), frozenset(vs))
    )
    return st.one_of(every, one, ranged, stepped, listed)


def _fires_somewhere(day_field: Field, month_field: Field, dow_field: Field) -> bool:
    """Whether any date of a whole 28-year calendar cycle matches (Vixie cron's day rule: with
    both day fields restricted, either one matching is enough)."""
    days, months, dows = day_field[1], month_field[1], dow_field[1]
    either = day_field[0] != "*" and dow_field[0] != "*"
    moment = datetime(2000, 1, 1)
    while moment.year < 2028:
        if moment.month in months:
            by_day = moment.day in days
            by_dow = (moment.weekday() + 1) % 7 in dows
            if (by_day or by_dow) if either else (by_day and by_dow):
                return True
        moment += timedelta(days=1)
    return False


@settings(max_examples=150, deadline=None)
@given(day=_field(1, 31, (29, 30, 31)), month=_field(1, 12, (2, 4, 6)), dow=_field(0, 6, (0,)))
@example(day=("31", frozenset({31})), month=("2", frozenset({2})), dow=("*", frozenset(range(7))))
def test_a_cron_is_refused_exactly_when_no_date_ever_matches(
    day: Field, month: Field, dow: Field
) -> None:
    expression = f"0 3 {day[0]} {month[0]} {dow[0]}"
    try:
        validate_cron(expression)
    except ValueError as exc:
        assert "never fires" in str(exc) and repr(expression) in str(exc)
        assert not _fires_somewhere(day, month, dow), expression
    else:
        assert _fires_somewhere(day, month, dow), expression


DAY_TEXTS = st.sampled_from(["*", "1", "15", "28", "29", "30", "31", "L", "30-31", "*/10"])
MONTH_TEXTS = st.sampled_from(["*", "1", "2", "4", "2,4", "4,6,9,11", "2-3", "*/6", "12"])
DOW_TEXTS = st.sampled_from(["*", "0", "1-5", "1#5", "5#1", "6#4", "0L", "3"])
ZONES = st.sampled_from(["UTC", "America/New_York", "Asia/Seoul", "Australia/Lord_Howe"])


@settings(max_examples=150, deadline=None)
@given(
    day=DAY_TEXTS,
    month=MONTH_TEXTS,
    dow=DOW_TEXTS,
    zone=ZONES,
    now=st.datetimes(datetime(1990, 1, 1), datetime(2080, 1, 1), timezones=st.just(UTC)),
)
def test_every_cron_accepted_has_a_next_and_a_latest_tick(
    day: str, month: str, dow: str, zone: str, now: datetime
) -> None:
    """Whatever croniter parses and the config accepts, `schedules` and the scheduler can ask
    for its ticks (croniter raised CroniterBadDateError on `0 0 31 2 *`)."""
    expression = f"30 2 {day} {month} {dow}"
    try:
        validate_cron(expression)
    except ValueError as exc:
        assert "never fires" in str(exc) or "invalid cron" in str(exc)
        return
    following = next_tick(expression, zone, now)
    assert following > now
    previous = latest_tick(expression, zone, now)
    assert previous is None or previous <= now
