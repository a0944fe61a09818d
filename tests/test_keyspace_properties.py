"""Property tests of the index arithmetic over partition keys and of index ranges, each held
equal to the plain per-key enumeration (``keys()``, Python sets) on small generated cases."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.partitions import keyspace, ranges
from assetflow.partitions.core import (
    UNPARTITIONED,
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    WeeklyPartitions,
)

NOW = datetime(2024, 3, 12, 7, 30, tzinfo=UTC)

range_lists = st.lists(st.tuples(st.integers(-3, 40), st.integers(-3, 40)), max_size=6)


def as_set(rs: ranges.Ranges) -> set[int]:
    return {i for lo, hi in rs for i in range(lo, hi)}


def plain(raw: list[tuple[int, int]]) -> set[int]:
    return {i for lo, hi in raw for i in range(lo, hi)}


@given(range_lists, range_lists, st.integers(0, 45), st.integers(-5, 45))
def test_range_arithmetic_matches_sets(
    a_raw: list[tuple[int, int]], b_raw: list[tuple[int, int]], total: int, probe: int
) -> None:
    a, b = ranges.normalize(a_raw), ranges.normalize(b_raw)
    assert as_set(a) == plain(a_raw)
    assert all(lo < hi for lo, hi in a)
    assert all(x[1] < y[0] for x, y in itertools.pairwise(a))  # sorted, not touching
    assert ranges.count(a) == len(plain(a_raw))
    assert ranges.contains(a, probe) == (probe in plain(a_raw))
    assert as_set(ranges.intersect(a, b)) == plain(a_raw) & plain(b_raw)
    assert as_set(ranges.difference(a, b)) == plain(a_raw) - plain(b_raw)
    assert as_set(ranges.complement(a, total)) == set(range(total)) - plain(a_raw)
    assert ranges.from_indexes(sorted(plain(a_raw), reverse=True)) == a
    assert list(ranges.indexes(a)) == sorted(plain(a_raw))
    ordered = sorted(plain(a_raw))
    for n in (0, len(ordered) // 2, len(ordered) - 1):
        if 0 <= n < len(ordered):
            assert ranges.nth(a, n) == ordered[n]
    with pytest.raises(IndexError):
        ranges.nth(a, len(ordered))


def _static(size: int) -> StaticPartitions:
    return StaticPartitions([f"k{i}" for i in range(size)])


@st.composite
def definitions(draw: st.DrawFn) -> PartitionsDefinition:
    kind = draw(
        st.sampled_from(["none", "static", "daily", "weekly", "monthly", "hourly", "multi"])
    )
    if kind == "none":
        return UNPARTITIONED
    if kind == "static":
        return _static(draw(st.integers(1, 6)))
    if kind == "multi":
        first = draw(st.sampled_from(["static", "daily"]))
        head: PartitionsDefinition = (
            _static(draw(st.integers(1, 4)))
            if first == "static"
            else DailyPartitions(start=NOW.date() - timedelta(days=draw(st.integers(0, 5))))
        )
        return MultiPartitions({"a": head, "b": _static(draw(st.integers(1, 4)))})  # type: ignore[dict-item]
    zone = draw(st.sampled_from([None, "UTC", "America/New_York", "Australia/Lord_Howe"]))
    back = draw(st.integers(0, 60))
    if kind == "hourly":
        start = NOW.replace(minute=0, tzinfo=None) - timedelta(hours=back)
        return HourlyPartitions(start=start, timezone=zone)
    if kind == "daily":
        return DailyPartitions(start=NOW.date() - timedelta(days=back), timezone=zone)
    if kind == "weekly":
        monday = NOW.date() - timedelta(days=NOW.date().weekday() + 7 * (back // 7))
        return WeeklyPartitions(start=monday, timezone=zone)
    return MonthlyPartitions(start=date(2024 - back // 12, 1 + back % 12, 1), timezone=zone)


@settings(max_examples=150, deadline=None)
@given(definitions(), st.integers(0, 200), st.integers(0, 200), st.integers(0, 50))
def test_key_arithmetic_matches_enumeration(
    definition: PartitionsDefinition, lo: int, hi: int, moment: int
) -> None:
    now = NOW + timedelta(hours=moment * 7)
    keys = definition.keys(now)
    assert keyspace.key_count(definition, now) == len(keys)
    for i, key in enumerate(keys):
        assert keyspace.index_of(definition, key, now) == i
        assert keyspace.key_at(definition, i, now) == key
    assert keyspace.keys_between(definition, lo, hi, now) == keys[lo:hi]
    seq = keyspace.KeySequence(definition, now, 0, len(keys))
    assert list(seq) == keys and len(seq) == len(keys) and seq == keys
    view = seq[lo:hi]
    assert list(view) == keys[lo:hi]
    for key in keys[:3] + keys[-3:]:
        assert (key in view) == (key in keys[lo:hi])
    for stranger in ["nope", "2024-01-01|k0|k1", "2024-02-30", "2024-03-01T00:00+09:00", "k99"]:
        assert (keyspace.index_of(definition, stranger, now) is not None) == (stranger in keys)


@settings(max_examples=60, deadline=None)
@given(definitions(), st.integers(0, 50))
def test_layout_names_the_same_numbering(definition: PartitionsDefinition, moment: int) -> None:
    """Where a layout exists, its key format and start give back every key at its index."""
    now = NOW + timedelta(hours=moment * 7)
    layout = keyspace.layout_of(definition, now)
    keys = definition.keys(now)
    if layout is None:
        assert isinstance(definition, HourlyPartitions | MultiPartitions)
        return
    assert layout.size == len(keys)
    assert [_key_of_layout(layout, i) for i in range(len(keys))] == keys


def _key_of_layout(layout: keyspace.Layout, index: int) -> str:
    if layout.unit == "none":
        return "-"
    if layout.unit == "list":
        return layout.keys[index]
    if layout.unit == "multi":
        parts = []
        for part in reversed(layout.parts):
            index, at = divmod(index, part.size)
            parts.append(_key_of_layout(part, at))
        return "|".join(reversed(parts))
    if layout.unit == "month":
        year, month = (int(x) for x in layout.start.split("-"))
        year, month = divmod(year * 12 + month - 1 + index, 12)
        return f"{year:04d}-{month + 1:02d}"
    if layout.unit == "hour":
        start = datetime.strptime(layout.start, "%Y-%m-%dT%H:%M")
        return (start + timedelta(hours=index)).strftime("%Y-%m-%dT%H:%M")
    step = 7 if layout.unit == "week" else 1
    return (date.fromisoformat(layout.start) + timedelta(days=step * index)).isoformat()


def test_utc_hourly_keys_match_key_at_over_years() -> None:
    hourly = HourlyPartitions(start="1910-01-01T00:00", end="1913-03-01T05:00", timezone="UTC")
    total = hourly.total()
    assert total is not None
    made = hourly._make_keys(0, total)
    assert made == [hourly.key_at(i) for i in range(total)]
    assert hourly._make_keys(17, 19) == [hourly.key_at(17), hourly.key_at(18)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 90), st.integers(0, 90), st.sampled_from(["UTC", "Europe/Paris"]))
def test_targets_of_a_range_are_a_slice_when_keys_are_numbered(
    first: int, last: int, zone: str
) -> None:
    """``--from/--to`` over an asset whose keys are numbered: the same keys as key_range, and
    the same error when reversed."""
    from assetflow.definitions.assets import AssetDef
    from assetflow.errors import PartitionError
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.planner.targets import resolve_targets

    hourly = HourlyPartitions(start="2024-03-28T00:00", timezone=zone)
    graph = AssetGraph([AssetDef("h", code_version="c").replace(partitions=hourly)])
    now = datetime(2024, 4, 1, 12, tzinfo=UTC)
    keys = hourly.keys(now)
    listed = keyspace.LISTED_KEYS
    keyspace.LISTED_KEYS = 0
    try:
        try:
            want = hourly.key_range(keys[first], keys[last], now)
        except PartitionError as error:
            with pytest.raises(PartitionError, match=re.escape(str(error))):
                resolve_targets(graph, ["h"], now, first=keys[first], last=keys[last])
            return
        got = resolve_targets(graph, ["h"], now, first=keys[first], last=keys[last])
    finally:
        keyspace.LISTED_KEYS = listed
    assert list(got) == [("h", key) for key in want]
    assert isinstance(got.keys_of("h"), keyspace.KeySequence)


STRANGERS = [
    "-",
    "nope",
    "2024-01-01|k0|k1",
    "2024-02-30",
    "2024-3-01",
    "2024-03-01T00:00+09:00",
    "2024-03-01T00:30",
    "2024-03-11T7:00",
    "2024-03",
    "2024-13",
    "2024-03-04",
    "1999-12-27",
    "2030-01-01",
    "k99",
    "k0|k9",
    "2024-03-10|k0",
    "2024-03-10T00:00|k0",
]


@settings(max_examples=80, deadline=None)
@given(definitions(), st.integers(0, 50), st.sampled_from([None, *STRANGERS]))
def test_sql_numbering_finds_exactly_the_existing_keys(
    definition: PartitionsDefinition, moment: int, extra: str | None
) -> None:
    """The status cache's keys numbered in SQL (store.key_index): exactly the existing keys,
    each at its index, whatever else the cache holds."""
    import duckdb

    from assetflow.store.key_index import existing_rows

    now = NOW + timedelta(hours=moment * 7)
    layout = keyspace.layout_of(definition, now)
    if layout is None:
        return
    keys = definition.keys(now)
    others = [k for k in STRANGERS if k not in keys]
    other_definition_keys = DailyPartitions(start="2024-03-01").keys(now)[:5] + [
        HourlyPartitions(start="2024-03-10T00:00").key_at(i) for i in range(3)
    ]
    stored = list(dict.fromkeys(keys + others + other_definition_keys + ([extra] if extra else [])))
    con = duckdb.connect()
    con.execute("CREATE TABLE partition_status (asset VARCHAR, partition VARCHAR)")
    con.execute("INSERT INTO partition_status SELECT 'a', UNNEST(?::VARCHAR[])", [stored])
    con.execute("INSERT INTO partition_status VALUES ('other', ?)", [keys[0] if keys else "-"])
    sql, parameters = existing_rows(layout)
    found = con.execute(
        f"SELECT partition, idx FROM ({sql}) ORDER BY idx", {**parameters, "names": ["a"]}
    ).fetchall()
    assert found == [(key, i) for i, key in enumerate(keys)]


def test_plan_json_of_a_step_range_escapes_keys_json_would_escape() -> None:
    """Static keys with quotes or non-ASCII characters: the pieces are json.dumps' text."""
    import json

    from assetflow.planner import plan_json
    from assetflow.planner.plan import Plan
    from assetflow.planner.status import Reason
    from assetflow.planner.steps import PlanStep, PlanSteps, StepRange
    from assetflow.records import PartitionStatus, ReasonKind

    odd = StaticPartitions(['a"b', "é", "c\\d", "plain"])
    keys = keyspace.KeySequence(odd, NOW, 0, 4)
    reasons = (Reason(ReasonKind.MISSING, "never materialized"),)
    run = StepRange("s", keys, ((0, 2), (3, 4)), PartitionStatus.MISSING, reasons)
    single = PlanStep("t", "-", PartitionStatus.MISSING, reasons)
    plan = Plan(steps=PlanSteps([single, run]), targets=[], created_at=NOW)
    text = json.dumps({**plan.to_json(), "runs_on": {"s": "coordinator"}}, indent=2)
    assert "".join(plan_json.plan_json_chunks(plan, {"runs_on": {"s": "coordinator"}})) == (
        text + "\n"
    )
    assert [step.partition for step in plan.steps] == ["-", 'a"b', "é", "plain"]
