"""``TimeWindowMapping`` offsets count downstream periods, as in Dagster.

The downstream window is shifted (its start by ``start_offset``, its end by ``end_offset``
downstream periods) and every upstream window overlapping the shifted window is read. These
tests hold the mapping to a brute-force model of that sentence, hold the reverse direction to
the forward one, and hold same-cadence results to what they were when offsets counted upstream
periods (for one cadence both readings agree).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.mappings.core import MultiMapping, TimeWindowMapping
from assetflow.partitions.core import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    StaticPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)
from assetflow.partitions.windows import as_utc

NOW = datetime(2024, 6, 15, 12, 30, tzinfo=UTC)
TIMEZONES = ["UTC", "America/New_York", "Asia/Seoul", "Europe/London", "Asia/Kolkata"]
FAST = settings(max_examples=150, deadline=None)

DAILY = DailyPartitions("2024-01-01")
MONTHLY = MonthlyPartitions("2024-01")


@st.composite
def time_definitions(draw: st.DrawFn, kind: str | None = None) -> TimeWindowPartitions:
    """A time definition starting in 2023-2024, with an optional end, in a test timezone."""
    kind = kind or draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
    tz = draw(st.sampled_from(TIMEZONES))
    day = draw(st.dates(min_value=date(2023, 1, 1), max_value=date(2024, 5, 1)))
    length = draw(st.none() | st.integers(1, 40))
    if kind == "hourly":
        start = datetime(day.year, day.month, day.day, draw(st.integers(0, 23)))
        end = None if length is None else start + timedelta(hours=length * 24)
        return HourlyPartitions(start, end, timezone=tz)
    if kind == "daily":
        return DailyPartitions(day, None if length is None else day + timedelta(days=length), tz)
    if kind == "weekly":
        monday = day - timedelta(days=day.weekday())
        end_day = None if length is None else monday + timedelta(weeks=length)
        return WeeklyPartitions(monday, end_day, tz)
    first = day.replace(day=1)
    if length is None:
        return MonthlyPartitions(first, None, tz)
    months = first.year * 12 + first.month - 1 + length
    return MonthlyPartitions(first, date(months // 12, months % 12 + 1, 1), tz)


offsets = st.tuples(st.integers(-3, 3), st.integers(-3, 3)).map(sorted)


def utc_window(definition: TimeWindowPartitions, index: int) -> tuple[datetime, datetime]:
    start, end = definition.window_at(index)
    return as_utc(start), as_utc(end)


def upstream_overlapping(
    upstream: TimeWindowPartitions, start: datetime, end: datetime
) -> list[str]:
    """Every upstream key within bounds whose window overlaps ``[start, end)``, by scanning."""
    total = upstream.total()
    # A generous scan around the span: no window is shorter than an hour or longer than 31 days.
    first = upstream.index_containing(start) - 3
    last = upstream.index_containing(end) + 3
    found = []
    for index in range(max(first, 0), last + 1):
        if total is not None and index >= total:
            break
        window_start, window_end = utc_window(upstream, index)
        if window_start < end and window_end > start:
            found.append(upstream.key_at(index))
    return found


def model_upstream_keys(
    mapping: TimeWindowMapping,
    key: str,
    downstream: TimeWindowPartitions,
    upstream: TimeWindowPartitions,
) -> list[str]:
    """Dagster's rule: the downstream window, shifted in downstream periods, then overlap."""
    index = downstream.index_of(key)
    start = utc_window(downstream, index + mapping.start_offset)[0]
    end = utc_window(downstream, index + mapping.end_offset)[1]
    return upstream_overlapping(upstream, start, end)


def upstream_period_keys(
    mapping: TimeWindowMapping,
    key: str,
    downstream: TimeWindowPartitions,
    upstream: TimeWindowPartitions,
) -> list[str]:
    """The former rule: the overlapping upstream range, its ends shifted in upstream periods."""
    start, end = utc_window(downstream, downstream.index_of(key))
    # Windows are contiguous: the range runs from the one holding the start to the one holding
    # the last instant, unclipped (the offsets may bring it back within bounds).
    first = upstream.index_containing(start)
    last = upstream.index_containing(end - timedelta(microseconds=1))
    return upstream.key_slice(
        first + mapping.start_offset,
        min(last + mapping.end_offset + 1, upstream.total() or 10**9),
    )


# -- the example from the issue and the spec ---------------------------------------------------


def test_monthly_reading_daily_shifts_by_whole_months() -> None:
    rolling = TimeWindowMapping(start_offset=-1, end_offset=0)
    keys = rolling.upstream_keys("2024-02", MONTHLY, DAILY, NOW)
    assert (keys[0], keys[-1], len(keys)) == ("2024-01-01", "2024-02-29", 60)
    # January's days are read by January and by February; the month before, December, is not
    # a partition (the monthly start is 2024-01).
    assert rolling.downstream_keys("2024-01-15", MONTHLY, DAILY, NOW) == ["2024-01", "2024-02"]
    assert rolling.downstream_keys("2024-02-29", MONTHLY, DAILY, NOW) == ["2024-02", "2024-03"]


def test_daily_reading_monthly_shifts_by_days() -> None:
    previous_day = TimeWindowMapping(-1, -1)
    assert previous_day.upstream_keys("2024-03-15", DAILY, MONTHLY, NOW) == ["2024-03"]
    assert previous_day.upstream_keys("2024-03-01", DAILY, MONTHLY, NOW) == ["2024-02"]
    readers = previous_day.downstream_keys("2024-02", DAILY, MONTHLY, NOW)
    assert (readers[0], readers[-1], len(readers)) == ("2024-02-02", "2024-03-01", 29)
    # The first day's previous day lies before the monthly start: nothing.
    assert previous_day.upstream_keys("2024-01-01", DAILY, MONTHLY, NOW) == []


def test_hourly_reading_daily_and_weekly_reading_monthly() -> None:
    hourly = HourlyPartitions("2024-01-01")
    # The hour before midnight belongs to the day before.
    assert TimeWindowMapping(-1, -1).upstream_keys("2024-03-05T00:00", hourly, DAILY, NOW) == [
        "2024-03-04"
    ]
    assert TimeWindowMapping(-1, 0).upstream_keys("2024-03-05T00:00", hourly, DAILY, NOW) == [
        "2024-03-04",
        "2024-03-05",
    ]
    weekly = WeeklyPartitions("2024-01-01")
    # Week of 2024-02-05, shifted one week back: 2024-01-29 .. 2024-02-11 meets two months.
    assert TimeWindowMapping(-1, 0).upstream_keys("2024-02-05", weekly, MONTHLY, NOW) == [
        "2024-01",
        "2024-02",
    ]


# -- properties -------------------------------------------------------------------------------


@FAST
@given(
    data=st.data(),
    downstream=time_definitions(),
    upstream=time_definitions(),
    offsets=offsets,
)
def test_upstream_keys_follow_the_shifted_downstream_window(
    data: st.DataObject,
    downstream: TimeWindowPartitions,
    upstream: TimeWindowPartitions,
    offsets: list[int],
) -> None:
    mapping = TimeWindowMapping(*offsets)
    keys = downstream.keys(NOW)
    if not keys:
        return
    key = keys[data.draw(st.integers(0, len(keys) - 1))]
    expected = model_upstream_keys(mapping, key, downstream, upstream)
    assert mapping.upstream_keys(key, downstream, upstream, NOW) == expected


def _size(definition: TimeWindowPartitions) -> int:
    total = definition.total()
    return 10**9 if total is None else total


def _near(definition: TimeWindowPartitions, keys: list[str], now: datetime | None) -> list[str]:
    """``keys`` and the keys just before and after them, within the definition's bounds."""
    if not keys:
        return []
    first, last = definition.index_of(keys[0]), definition.index_of(keys[-1])
    limit = definition.due_count(now) if now is not None else _size(definition)
    return definition.key_slice(first - 2, min(last + 3, limit))


@FAST
@given(
    data=st.data(),
    downstream=time_definitions(),
    upstream=time_definitions(),
    offsets=offsets,
)
def test_reverse_is_exactly_the_forward_direction(
    data: st.DataObject,
    downstream: TimeWindowPartitions,
    upstream: TimeWindowPartitions,
    offsets: list[int],
) -> None:
    """u in upstream_keys(d) iff d in downstream_keys(u), for existing d and in-bounds u."""
    mapping = TimeWindowMapping(*offsets)
    down_keys = downstream.keys(NOW)
    if down_keys:
        d = down_keys[data.draw(st.integers(0, len(down_keys) - 1))]
        read = mapping.upstream_keys(d, downstream, upstream, NOW)
        for u in _near(upstream, read, None) or upstream.key_slice(0, min(2, _size(upstream))):
            readers = mapping.downstream_keys(u, downstream, upstream, NOW)
            assert (u in read) == (d in readers), (d, u, read, readers)
    up_keys = upstream.key_slice(0, min(_size(upstream), upstream.due_count(NOW) + 5))
    if up_keys:
        u = up_keys[data.draw(st.integers(0, len(up_keys) - 1))]
        readers = mapping.downstream_keys(u, downstream, upstream, NOW)
        for d in _near(downstream, readers, NOW) or downstream.keys(NOW)[:2]:
            read = mapping.upstream_keys(d, downstream, upstream, NOW)
            assert (u in read) == (d in readers), (d, u, read, readers)


@FAST
@given(data=st.data(), kind=st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
def test_same_cadence_results_do_not_change(data: st.DataObject, kind: str) -> None:
    downstream = data.draw(time_definitions(kind))
    upstream = data.draw(time_definitions(kind))
    mapping = TimeWindowMapping(*data.draw(offsets))
    keys = downstream.keys(NOW)
    if not keys:
        return
    key = keys[data.draw(st.integers(0, len(keys) - 1))]
    assert mapping.upstream_keys(key, downstream, upstream, NOW) == upstream_period_keys(
        mapping, key, downstream, upstream
    )


def test_multi_dimension_offsets_count_downstream_periods_too() -> None:
    regions = StaticPartitions(["eu", "us"])
    down = MultiPartitions({"date": MONTHLY, "region": regions})
    up = MultiPartitions({"date": DAILY, "region": regions})
    mapping = MultiMapping({"date": TimeWindowMapping(-1, 0)})
    keys = mapping.upstream_keys("2024-02|eu", down, up, NOW)
    assert (keys[0], keys[-1], len(keys)) == ("2024-01-01|eu", "2024-02-29|eu", 60)
