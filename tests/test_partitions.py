"""Partition definitions: keys, windows, due-ness, validation, and their round-trip properties."""

from __future__ import annotations

import itertools
import json
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import DefinitionError, PartitionError
from assetflow.partitions.core import (
    UNPARTITIONED,
    UNPARTITIONED_KEY,
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    StaticPartitions,
    TimeWindowPartitions,
    Unpartitioned,
    WeeklyPartitions,
)

NOW = datetime(2024, 6, 15, 12, 30, tzinfo=UTC)
TIMEZONES = [
    "UTC",
    "America/New_York",
    "Asia/Seoul",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]
FAST = settings(max_examples=150, deadline=None)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@st.composite
def time_definitions(draw: st.DrawFn) -> TimeWindowPartitions:
    """Any of the four time kinds, in any test timezone, starting between 2000 and 2026."""
    kind = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
    tz = draw(st.sampled_from(TIMEZONES))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 12, 31)))
    if kind == "hourly":
        hour = draw(st.integers(0, 23))
        return HourlyPartitions(datetime(day.year, day.month, day.day, hour), timezone=tz)
    if kind == "daily":
        return DailyPartitions(day, timezone=tz)
    if kind == "weekly":
        return WeeklyPartitions(day - timedelta(days=day.weekday()), timezone=tz)
    return MonthlyPartitions(day.replace(day=1), timezone=tz)


def index_strategy(definition: TimeWindowPartitions) -> st.SearchStrategy[int]:
    # About five years of windows of each kind: enough to cross many DST changes.
    limit = {"hourly": 24 * 366 * 5, "daily": 366 * 5, "weekly": 53 * 5, "monthly": 60}
    return st.integers(0, limit[definition.kind])


# -- properties -----------------------------------------------------------------------------


@FAST
@given(data=st.data(), definition=time_definitions())
def test_key_and_window_round_trip(data: st.DataObject, definition: TimeWindowPartitions) -> None:
    index = data.draw(index_strategy(definition))
    key = definition.key_at(index)
    assert definition.index_of(key) == index
    assert definition.key_at(definition.index_of(key)) == key
    assert definition.canonical_key(key) == key
    start, end = definition.window_at(index)
    assert definition.time_window(key) == (start, end)
    assert str(start.tzinfo) == definition.zone.key
    assert definition.index_containing(start) == index
    assert definition.index_containing(utc(end) - timedelta(microseconds=1)) == index
    assert definition.index_containing(end) == index + 1
    # Consecutive windows tile time: no gap, no overlap.
    next_start, _ = definition.window_at(index + 1)
    assert utc(end) == utc(next_start)
    assert utc(start) < utc(end)


@FAST
@given(data=st.data(), definition=time_definitions())
def test_windows_have_their_local_length(
    data: st.DataObject, definition: TimeWindowPartitions
) -> None:
    index = data.draw(index_strategy(definition))
    start, end = definition.window_at(index)
    if definition.kind == "hourly":
        assert utc(end) - utc(start) == timedelta(hours=1)
        return
    # None of the test zones skips midnight after 2000, so windows start at local midnight.
    assert start.time() == end.time() == datetime.min.time()
    assert start.date().isoformat().startswith(definition.key_at(index))
    if definition.kind == "daily":
        assert end.date() - start.date() == timedelta(days=1)
    elif definition.kind == "weekly":
        assert start.weekday() == 0
        assert end.date() - start.date() == timedelta(days=7)
    else:
        assert start.day == end.day == 1
        assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == 1


@FAST
@given(
    definition=time_definitions(),
    instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2031, 1, 1)),
)
def test_index_containing_finds_the_window(
    definition: TimeWindowPartitions, instant: datetime
) -> None:
    moment = instant.replace(tzinfo=UTC)
    index = definition.index_containing(moment)
    start, end = definition.window_at(index)
    assert utc(start) <= moment < utc(end)


@FAST
@given(definition=time_definitions(), now=st.datetimes(datetime(1999, 1, 1), datetime(2031, 1, 1)))
def test_due_windows_have_ended(definition: TimeWindowPartitions, now: datetime) -> None:
    moment = now.replace(tzinfo=UTC)
    due = definition.due_count(moment)
    if due:
        assert utc(definition.window_at(due - 1)[1]) <= moment
        assert definition.last_key(moment) == definition.key_at(due - 1)
    else:
        assert definition.last_key(moment) is None
    assert utc(definition.window_at(due)[1]) > moment


# -- daylight saving ------------------------------------------------------------------------


def test_spring_forward_day_has_23_hourly_partitions() -> None:
    hourly = HourlyPartitions("2024-03-10", end="2024-03-11", timezone="America/New_York")
    keys = hourly.keys(NOW)
    assert len(keys) == hourly.count(NOW) == 23
    assert keys[:3] == ["2024-03-10T00:00", "2024-03-10T01:00", "2024-03-10T03:00"]
    open_ended = HourlyPartitions("2024-03-01", timezone="America/New_York")
    assert len([k for k in open_ended.keys(NOW) if k.startswith("2024-03-10")]) == 23
    with pytest.raises(PartitionError, match="'2024-03-10T02:00' does not exist"):
        hourly.validate_key("2024-03-10T02:00", NOW)


def test_fall_back_day_has_25_hourly_partitions_with_offsets_on_the_repeated_hour() -> None:
    hourly = HourlyPartitions("2024-11-03", end="2024-11-04", timezone="America/New_York")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    keys = hourly.keys(now)
    assert len(keys) == 25
    assert keys[:4] == [
        "2024-11-03T00:00",
        "2024-11-03T01:00-04:00",
        "2024-11-03T01:00-05:00",
        "2024-11-03T02:00",
    ]
    assert [k for k in keys if len(k) > 16] == ["2024-11-03T01:00-04:00", "2024-11-03T01:00-05:00"]
    windows = [hourly.window_at(i) for i in range(25)]
    assert utc(windows[0][0]) == datetime(2024, 11, 3, 4, tzinfo=UTC)
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert utc(end) == utc(start)
    assert utc(windows[-1][1]) - utc(windows[0][0]) == timedelta(hours=25)
    first, second = hourly.time_window("2024-11-03T01:00-04:00"), hourly.time_window(keys[2])
    assert utc(first[0]) == datetime(2024, 11, 3, 5, tzinfo=UTC)
    assert utc(second[0]) == datetime(2024, 11, 3, 6, tzinfo=UTC)
    with pytest.raises(
        PartitionError, match=r"'2024-11-03T01:00' is ambiguous.*add its UTC offset"
    ):
        hourly.validate_key("2024-11-03T01:00", now)
    # An offset where none is needed is accepted and dropped; a wrong one is refused.
    assert hourly.validate_key("2024-11-03T05:00-05:00", now) == "2024-11-03T05:00"
    with pytest.raises(PartitionError, match="'2024-11-03T05:00-04:00'"):
        hourly.validate_key("2024-11-03T05:00-04:00", now)


def test_daily_windows_in_seoul_and_across_dst_in_new_york() -> None:
    seoul = DailyPartitions("2024-01-01", timezone="Asia/Seoul")
    start, end = seoul.time_window("2024-01-31")
    assert utc(start) == datetime(2024, 1, 30, 15, tzinfo=UTC)
    assert utc(end) - utc(start) == timedelta(hours=24)
    assert start.isoformat() == "2024-01-31T00:00:00+09:00"
    new_york = DailyPartitions("2024-01-01", timezone="America/New_York")
    start, end = new_york.time_window("2024-03-10")
    assert utc(end) - utc(start) == timedelta(hours=23)
    start, end = new_york.time_window("2024-11-03")
    assert utc(end) - utc(start) == timedelta(hours=25)


def test_a_midnight_that_does_not_exist_still_tiles() -> None:
    # Santiago skipped from 2024-09-08T00:00 to 01:00: that day starts at the jump.
    daily = DailyPartitions("2024-09-01", timezone="America/Santiago")
    start, end = daily.time_window("2024-09-08")
    assert start.isoformat() == "2024-09-08T01:00:00-03:00"
    assert utc(daily.time_window("2024-09-07")[1]) == utc(start)
    assert utc(end) - utc(start) == timedelta(hours=23)
    assert daily.index_containing(start) == daily.index_of("2024-09-08")


def test_lord_howe_hourly_keys_follow_the_half_hour_shift() -> None:
    # A documented limitation: after a 30-minute DST change, hourly windows start at half past.
    hourly = HourlyPartitions(
        "2024-04-06T23:00", end="2024-04-07T05:00", timezone="Australia/Lord_Howe"
    )
    keys = hourly.keys(NOW)
    assert keys == [
        "2024-04-06T23:00",
        "2024-04-07T00:00",
        "2024-04-07T01:00",
        "2024-04-07T01:30+10:30",
        "2024-04-07T02:30",
        "2024-04-07T03:30",
    ]
    assert [hourly.index_of(k) for k in keys] == list(range(6))
    with pytest.raises(PartitionError, match="the one holding it is 2024-04-07T02:30"):
        hourly.index_of("2024-04-07T03:00")


# -- declarations ---------------------------------------------------------------------------


def test_equal_declarations_compare_and_hash_equal() -> None:
    assert DailyPartitions("2024-01-01") == DailyPartitions(start=date(2024, 1, 1))
    assert DailyPartitions("2024-01-01") == DailyPartitions(start=datetime(2024, 1, 1))
    assert hash(DailyPartitions("2024-01-01")) == hash(DailyPartitions(date(2024, 1, 1)))
    assert MonthlyPartitions("2024-01") == MonthlyPartitions("2024-01-01")
    assert MonthlyPartitions("2024-01") == MonthlyPartitions(date(2024, 1, 1))
    assert HourlyPartitions("2024-01-01") == HourlyPartitions("2024-01-01T00:00")
    assert HourlyPartitions("2024-01-01T13:00") == HourlyPartitions(datetime(2024, 1, 1, 13))
    assert DailyPartitions("2024-01-01") != WeeklyPartitions("2024-01-01")
    assert DailyPartitions("2024-01-01", timezone="UTC") != DailyPartitions("2024-01-01")
    assert StaticPartitions(["eu", "us"]) == StaticPartitions(("eu", "us"))
    assert Unpartitioned() == UNPARTITIONED
    assert len({DailyPartitions("2024-01-01"), DailyPartitions(date(2024, 1, 1))}) == 1
    seoul = ZoneInfo("Asia/Seoul")
    aware = datetime(2024, 1, 1, tzinfo=seoul)
    assert DailyPartitions(aware, timezone="Asia/Seoul") == DailyPartitions(
        "2024-01-01", timezone="Asia/Seoul"
    )


def test_end_is_exclusive() -> None:
    january = DailyPartitions(start="2024-01-01", end="2024-02-01")
    assert january.count(NOW) == 31
    assert january.keys(NOW)[-1] == "2024-01-31"
    assert january.total() == 31
    with pytest.raises(PartitionError, match="'2024-02-01' is at or after the end 2024-02-01"):
        january.validate_key("2024-02-01", NOW)
    assert MonthlyPartitions("2024-01", end="2024-04").keys(NOW) == [
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert WeeklyPartitions("2024-01-01", end="2024-01-29").count(NOW) == 4
    assert HourlyPartitions("2024-01-01", end="2024-01-02").count(NOW) == 24


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DailyPartitions("2024-13-01"), "start '2024-13-01' of daily partitions is not"),
        (lambda: DailyPartitions("01/02/2024"), "expected YYYY-MM-DD"),
        (lambda: DailyPartitions("2024-01-01", end="2024-01-01"), "end 2024-01-01 is not after"),
        (lambda: DailyPartitions("2024-02-01", end="2024-01-01"), "is not after start"),
        (lambda: DailyPartitions(datetime(2024, 1, 1, 6)), "is not at midnight"),
        (
            lambda: WeeklyPartitions("2024-01-03"),
            r"2024-01-03 is a Wednesday \(the Monday before it is 2024-01-01\)",
        ),
        (
            lambda: WeeklyPartitions("2024-01-01", end="2024-02-01"),
            "Monday before it is 2024-01-29",
        ),
        (lambda: MonthlyPartitions("2024-01-15"), "1st of a month.*use 2024-01"),
        (lambda: HourlyPartitions("2024-01-01T13:30"), "is not on the hour"),
        (lambda: HourlyPartitions("2024-01-01T25:00"), "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM"),
        (
            lambda: DailyPartitions("2024-01-01", timezone="Mars/Base"),
            "unknown timezone 'Mars/Base'",
        ),
        (
            lambda: DailyPartitions("2024-01-01", timezone="Europe/Londn"),
            "did you mean: Europe/London",
        ),
        (lambda: DailyPartitions(datetime(2024, 1, 1, tzinfo=UTC)), "no timezone= was given"),
        (lambda: StaticPartitions([]), "at least one key"),
        (lambda: StaticPartitions(["eu", "eu", "us"]), "repeat: eu"),
        (lambda: StaticPartitions(["eu|x"]), "must not contain '|'"),
        (lambda: StaticPartitions(["", "x"]), "must not be empty"),
        (lambda: StaticPartitions("eu"), "a list of keys"),
        (lambda: MultiPartitions({"date": DailyPartitions("2024-01-01")}), "at least two"),
        (
            lambda: MultiPartitions(
                {"a": DailyPartitions("2024-01-01"), "b": HourlyPartitions("2024-01-01")}
            ),
            "one time dimension",
        ),
        (
            lambda: MultiPartitions({"a": UNPARTITIONED, "b": StaticPartitions(["x"])}),
            "must be time or static",
        ),
        (
            lambda: MultiPartitions({"a|b": StaticPartitions(["x"]), "c": StaticPartitions(["y"])}),
            "without '|'",
        ),
    ],
)
def test_bad_declarations_raise_definition_error(make: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        make()  # type: ignore[operator]


# -- keys and due-ness ----------------------------------------------------------------------


def test_key_formats() -> None:
    assert DailyPartitions("2024-01-01").key_at(30) == "2024-01-31"
    assert WeeklyPartitions("2024-01-01").key_at(4) == "2024-01-29"
    assert MonthlyPartitions("2024-01").key_at(12) == "2025-01"
    assert HourlyPartitions("2024-01-31").key_at(13) == "2024-01-31T13:00"
    assert HourlyPartitions("2024-01-31", timezone="Asia/Kolkata").key_at(1) == "2024-01-31T01:00"
    # index_containing has no bounds: before the start is negative.
    monthly = MonthlyPartitions("2024-01")
    assert monthly.index_containing(datetime(2023, 12, 5, tzinfo=UTC)) == -1
    assert monthly.key_at(-1) == "2023-12"


def test_today_is_not_due_yesterday_is() -> None:
    daily = DailyPartitions("2024-01-01")
    now = datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert daily.last_key(now) == "2024-03-09"
    assert daily.has_key("2024-03-09", now)
    assert not daily.has_key("2024-03-10", now)
    with pytest.raises(PartitionError, match="'2024-03-10' is not due yet"):
        daily.validate_key("2024-03-10", now)
    with pytest.raises(PartitionError, match="'2030-01-01' is not due yet"):
        daily.validate_key("2030-01-01", now)
    # A window that ends exactly now is due.
    assert daily.last_key(datetime(2024, 3, 10, tzinfo=UTC)) == "2024-03-09"
    # Due-ness follows the partition's timezone: in Seoul 2024-03-10 is over at 15:00 UTC.
    seoul = DailyPartitions("2024-01-01", timezone="Asia/Seoul")
    assert seoul.has_key("2024-03-10", datetime(2024, 3, 10, 15, tzinfo=UTC))
    assert not daily.has_key("2024-03-10", datetime(2024, 3, 10, 15, tzinfo=UTC))
    assert not daily.has_key("2024-01-01", datetime(2024, 1, 1, 23, tzinfo=UTC))
    assert daily.keys(datetime(2023, 6, 1, tzinfo=UTC)) == []
    assert daily.last_key(datetime(2023, 6, 1, tzinfo=UTC)) is None
    # The current month is not due; the previous one is.
    monthly = MonthlyPartitions("2024-01")
    assert monthly.last_key(now) == "2024-02"
    assert monthly.count(now) == 2


def test_now_defaults_to_the_current_time_and_must_be_aware() -> None:
    daily = DailyPartitions("2024-01-01")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert daily.last_key() == yesterday
    assert daily.has_key(yesterday)
    with pytest.raises(ValueError, match="timezone-aware"):
        daily.keys(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("definition", "key", "message"),
    [
        (DailyPartitions("2024-01-01"), "2024-13-01", "'2024-13-01' is not a daily partition key"),
        (DailyPartitions("2024-01-01"), "2024-1-1", r"\(expected YYYY-MM-DD\)"),
        (DailyPartitions("2024-01-01"), "20240101", "'20240101' is not a daily"),
        (DailyPartitions("2024-01-01"), "2023-12-31", "before the start 2024-01-01 of daily"),
        (WeeklyPartitions("2024-01-01"), "2024-01-31", "Wednesday, its week starts on 2024-01-29"),
        (MonthlyPartitions("2024-01"), "2024-01-01", "'2024-01-01' is not a monthly"),
        (MonthlyPartitions("2024-01"), "2024-13", "expected YYYY-MM"),
        (MonthlyPartitions("2024-02"), "2024-01", "'2024-01' is before the start 2024-02"),
        (HourlyPartitions("2024-01-01"), "2024-01-01", "not an hourly partition key"),
        (HourlyPartitions("2024-01-01"), "2024-01-01T24:00", "'2024-01-01T24:00'"),
        (HourlyPartitions("2024-01-01"), "2024-01-01T01:00+25:00", "'2024-01-01T01:00\\+25:00'"),
        (HourlyPartitions("2024-01-01T05:00"), "2024-01-01T04:00", "before the start"),
        (StaticPartitions(["eu", "us"]), "de", r"'de' is not a partition of static \[eu, us\]"),
        (StaticPartitions(["europe", "us"]), "eurpe", "did you mean: europe"),
        (UNPARTITIONED, "2024-01-01", "its only partition is '-'"),
    ],
)
def test_bad_keys_raise_partition_error_naming_the_key(
    definition: TimeWindowPartitions, key: str, message: str
) -> None:
    with pytest.raises(PartitionError, match=message):
        definition.validate_key(key, NOW)
    assert not definition.has_key(key, NOW)


def test_key_range_is_inclusive_and_checked() -> None:
    daily = DailyPartitions("2024-01-01")
    assert daily.key_range("2024-01-30", "2024-02-02", NOW) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-02-02",
    ]
    assert daily.key_range("2024-01-05", "2024-01-05", NOW) == ["2024-01-05"]
    with pytest.raises(PartitionError, match="--from 2024-02-01 is after --to 2024-01-01"):
        daily.key_range("2024-02-01", "2024-01-01", NOW)
    with pytest.raises(PartitionError, match="'2023-12-01' is before the start"):
        daily.key_range("2023-12-01", "2024-01-01", NOW)
    with pytest.raises(PartitionError, match="'2030-01-01' is not due yet"):
        daily.key_range("2024-01-01", "2030-01-01", NOW)
    static = StaticPartitions(["a", "b", "c", "d"])
    assert static.key_range("b", "c") == ["b", "c"]
    with pytest.raises(PartitionError, match="--from d is after --to a"):
        static.key_range("d", "a")


# -- describe, str, defaults ----------------------------------------------------------------


def test_describe_and_str() -> None:
    daily = DailyPartitions("2024-01-01", end="2024-02-01", timezone="Asia/Seoul")
    assert daily.describe(NOW) == {
        "kind": "daily",
        "start": "2024-01-01",
        "end": "2024-02-01",
        "timezone": "Asia/Seoul",
        "count": 31,
    }
    assert str(DailyPartitions("2024-01-01")) == "daily from 2024-01-01 (UTC)"
    assert str(daily) == "daily from 2024-01-01 until 2024-02-01 (Asia/Seoul)"
    assert str(HourlyPartitions("2024-01-01T13:00")) == "hourly from 2024-01-01T13:00 (UTC)"
    assert MonthlyPartitions("2024-01").describe(NOW)["start"] == "2024-01"
    assert str(StaticPartitions(["eu", "us"])) == "static [eu, us]"
    assert str(StaticPartitions([f"k{i}" for i in range(20)])).endswith("... (20 keys)]")
    assert str(UNPARTITIONED) == "-"
    assert UNPARTITIONED.describe(NOW) == {
        "kind": "none",
        "start": None,
        "end": None,
        "timezone": None,
        "count": 1,
    }
    static = StaticPartitions(["eu", "us"])
    assert static.describe(NOW)["keys"] == ["eu", "us"]
    multi = MultiPartitions({"date": daily, "region": static})
    described = multi.describe(NOW)
    assert described["count"] == 62
    assert described["start"] == "2024-01-01"
    assert list(described["dimensions"]) == ["date", "region"]  # type: ignore[call-overload]
    for definition in [daily, static, multi, UNPARTITIONED, HourlyPartitions("2024-06-01")]:
        json.dumps(definition.describe(NOW))
    assert str(multi).startswith("multi [date: daily from 2024-01-01")


def test_with_default_timezone_fills_only_an_unset_timezone() -> None:
    daily = DailyPartitions("2024-01-01")
    assert daily.timezone is None
    seoul = daily.with_default_timezone("Asia/Seoul")
    assert seoul == DailyPartitions("2024-01-01", timezone="Asia/Seoul")
    explicit = DailyPartitions("2024-01-01", timezone="UTC")
    assert explicit.with_default_timezone("Asia/Seoul") is explicit
    hourly = HourlyPartitions("2024-01-01T13:00", end="2024-01-02")
    assert hourly.with_default_timezone("Asia/Kolkata").timezone == "Asia/Kolkata"
    static = StaticPartitions(["a"])
    assert static.with_default_timezone("Asia/Seoul") is static
    multi = MultiPartitions({"date": daily, "region": static})
    filled = multi.with_default_timezone("Asia/Seoul")
    assert filled.time_dimension == ("date", seoul)
    with pytest.raises(DefinitionError, match="unknown timezone"):
        daily.with_default_timezone("Nowhere/City")


def test_unpartitioned_has_exactly_one_key() -> None:
    assert UNPARTITIONED.keys(NOW) == [UNPARTITIONED_KEY] == ["-"]
    assert UNPARTITIONED.count() == 1
    assert UNPARTITIONED.validate_key("-") == "-"
    assert UNPARTITIONED.last_key() == "-"
    assert UNPARTITIONED.key_range("-", "-") == ["-"]


def test_multi_partitions() -> None:
    multi = MultiPartitions(
        {
            "date": DailyPartitions("2024-01-01", end="2024-01-04"),
            "region": StaticPartitions(["eu", "us"]),
        }
    )
    assert multi.keys(NOW) == [
        "2024-01-01|eu",
        "2024-01-01|us",
        "2024-01-02|eu",
        "2024-01-02|us",
        "2024-01-03|eu",
        "2024-01-03|us",
    ]
    assert multi.count(NOW) == 6
    assert multi.split_key("2024-01-31|eu") == {"date": "2024-01-31", "region": "eu"}
    assert multi.join_key({"region": "eu", "date": "2024-01-31"}) == "2024-01-31|eu"
    assert multi.names == ["date", "region"]
    assert multi.time_dimension == ("date", DailyPartitions("2024-01-01", end="2024-01-04"))
    assert multi.validate_key("2024-01-02|us", NOW) == "2024-01-02|us"
    assert multi.last_key(NOW) == "2024-01-03|us"
    assert multi.key_range("2024-01-01|us", "2024-01-02|us", NOW) == [
        "2024-01-01|us",
        "2024-01-02|us",
    ]
    with pytest.raises(PartitionError, match=r"'2024-01-02' is not a partition key of multi.*"):
        multi.validate_key("2024-01-02", NOW)
    with pytest.raises(PartitionError, match=r"'de' is not a partition.*dimension 'region'"):
        multi.validate_key("2024-01-02|de", NOW)
    with pytest.raises(PartitionError, match="before the start"):
        multi.validate_key("2023-01-02|eu", NOW)
    with pytest.raises(PartitionError, match="needs exactly the parts date, region"):
        multi.join_key({"date": "2024-01-01"})
    statics = MultiPartitions([("a", StaticPartitions(["1", "2"])), ("b", StaticPartitions(["x"]))])
    assert statics.time_dimension is None
    assert statics.keys() == ["1|x", "2|x"]
    assert statics.describe()["timezone"] is None
    empty = MultiPartitions({"date": DailyPartitions("2030-01-01"), "r": StaticPartitions(["x"])})
    assert empty.last_key(NOW) is None
    assert empty.keys(NOW) == []


# -- speed ----------------------------------------------------------------------------------


def test_keys_for_ten_thousand_hourly_partitions_match_key_at() -> None:
    # Speed is measured in benchmarks/, never here; this checks the bulk path is right.
    hourly = HourlyPartitions("2023-01-01", timezone="America/New_York")
    now = datetime(2024, 2, 25, tzinfo=UTC)
    keys = hourly.keys(now)
    assert len(keys) > 10_000
    # The bulk path agrees with key_at, including the offset-carrying keys.
    assert keys == [hourly.key_at(i) for i in range(len(keys))]
    assert sum(1 for key in keys if len(key) > 16) == 2


def test_arithmetic_far_from_the_start_round_trips() -> None:
    hourly = HourlyPartitions("2000-01-01", timezone="Europe/London")
    index = hourly.index_of("2029-07-01T12:00")
    assert hourly.key_at(index) == "2029-07-01T12:00"
    assert hourly.window_at(index)[0].isoformat() == "2029-07-01T12:00:00+01:00"


def test_key_cache_grows_linearly_and_is_not_pickled() -> None:
    daily = DailyPartitions("2000-01-01")
    # Asking for one more key at a time (as a planner walking forward does) stays linear.
    for index in range(1, 20_001):
        assert daily.key_slice(index - 1, index) == [daily.key_at(index - 1)]
    assert daily.key_slice(-3, 2) == ["2000-01-01", "2000-01-02"]
    assert daily.key_slice(5, 5) == []
    assert daily.key_slice(2_000_000, 2_000_001) == [daily.key_at(2_000_000)]
    assert len(daily.__dict__["_key_cache"]) < 100_000
    restored = pickle.loads(pickle.dumps(daily))
    assert restored == daily
    assert "_key_cache" not in restored.__dict__
    assert len(pickle.dumps(daily)) < 500
    assert restored.keys(datetime(2000, 1, 4, tzinfo=UTC)) == daily.key_slice(0, 3)


def test_multi_keys_follow_now() -> None:
    multi = MultiPartitions({"date": DailyPartitions("2024-01-01"), "r": StaticPartitions(["a"])})
    assert multi.keys(datetime(2024, 1, 3, tzinfo=UTC)) == ["2024-01-01|a", "2024-01-02|a"]
    assert multi.keys(datetime(2024, 1, 2, tzinfo=UTC)) == ["2024-01-01|a"]
    assert multi.count(datetime(2024, 1, 2, tzinfo=UTC)) == 1
