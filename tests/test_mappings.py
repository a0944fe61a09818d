"""Partition mappings: upstream/downstream keys, their consistency, defaults and self-dependency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import DefinitionError, PartitionError
from assetflow.mappings.core import (
    AllPartitionsMapping,
    DimensionMapping,
    IdentityMapping,
    LastPartitionMapping,
    MultiMapping,
    PartitionMapping,
    StaticMapping,
    TimeWindowMapping,
    check_self_dependency,
    default_mapping,
)
from assetflow.partitions.core import (
    UNPARTITIONED,
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)

NOW = datetime(2024, 6, 15, 12, 30, tzinfo=UTC)
TIMEZONES = ["UTC", "America/New_York", "Asia/Seoul", "Europe/London", "Asia/Kolkata"]
FAST = settings(max_examples=120, deadline=None)

DAILY = DailyPartitions("2024-01-01")
REGIONS = StaticPartitions(["eu", "us", "apac"])
COUNTRIES = StaticPartitions(["de", "fr", "us", "jp", "kr"])


def assert_consistent(
    mapping: PartitionMapping,
    downstream: PartitionsDefinition,
    upstream: PartitionsDefinition,
    downstream_key: str,
    now: datetime = NOW,
) -> list[str]:
    """Every upstream key of a downstream key maps back to a set holding it, and exactly so."""
    upstream_keys = mapping.upstream_keys(downstream_key, downstream, upstream, now)
    assert len(set(upstream_keys)) == len(upstream_keys)
    # Large upstream sets (all of 13,000 hourly keys) are checked on a spread of 50-odd keys.
    stride = max(1, len(upstream_keys) // 50)
    for position, upstream_key in enumerate(upstream_keys):
        if position % stride and position != len(upstream_keys) - 1:
            continue
        assert upstream.canonical_key(upstream_key) == upstream_key
        readers = mapping.downstream_keys(upstream_key, downstream, upstream, now)
        assert downstream_key in readers, (upstream_key, readers)
        if position in (0, len(upstream_keys) // 2, len(upstream_keys) - 1):
            # The reverse is exact too: every reader reads it (checked on a sample, for speed).
            for reader in {*readers[:2], *readers[-2:]}:
                assert upstream_key in mapping.upstream_keys(reader, downstream, upstream, now)
    return upstream_keys


def assert_consistent_everywhere(
    mapping: PartitionMapping, downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> None:
    mapping.validate(downstream, upstream)
    for key in downstream.keys(NOW):
        assert_consistent(mapping, downstream, upstream, key)


# -- properties -----------------------------------------------------------------------------


@st.composite
def time_definitions(draw: st.DrawFn) -> TimeWindowPartitions:
    """A time definition starting in 2023-2024 with an optional end, in a test timezone."""
    kind = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
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


def drawn_key(data: st.DataObject, definition: PartitionsDefinition) -> str | None:
    keys = definition.keys(NOW)
    if not keys:
        return None
    return keys[data.draw(st.integers(0, len(keys) - 1))]


@FAST
@given(
    data=st.data(),
    downstream=time_definitions(),
    upstream=time_definitions(),
    offsets=st.tuples(st.integers(-3, 3), st.integers(-3, 3)).map(sorted),
)
def test_time_window_mapping_round_trips(
    data: st.DataObject,
    downstream: TimeWindowPartitions,
    upstream: TimeWindowPartitions,
    offsets: list[int],
) -> None:
    mapping = TimeWindowMapping(offsets[0], offsets[1])
    key = drawn_key(data, downstream)
    if key is None:
        return
    upstream_keys = assert_consistent(mapping, downstream, upstream, key)
    # Clipped to the upstream bounds, in order, and (with no offsets) overlapping the window.
    indexes = [upstream.index_of(k) for k in upstream_keys]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes))) if indexes else True
    if mapping == TimeWindowMapping():
        start, end = downstream.time_window(key)
        for upstream_key in upstream_keys:
            up_start, up_end = upstream.time_window(upstream_key)
            assert up_start.astimezone(UTC) < end.astimezone(UTC)
            assert up_end.astimezone(UTC) > start.astimezone(UTC)


@FAST
@given(data=st.data(), definition=time_definitions())
def test_identity_all_and_last_round_trip(
    data: st.DataObject, definition: TimeWindowPartitions
) -> None:
    key = drawn_key(data, definition)
    if key is None:
        return
    assert assert_consistent(IdentityMapping(), definition, definition, key) == [key]
    assert assert_consistent(TimeWindowMapping(), definition, definition, key) == [key]
    assert_consistent(AllPartitionsMapping(), definition, DAILY, key)
    assert_consistent(LastPartitionMapping(), definition, REGIONS, key)
    assert_consistent(AllPartitionsMapping(), UNPARTITIONED, definition, "-")
    assert_consistent(AllPartitionsMapping(), definition, UNPARTITIONED, key)


@FAST
@given(
    data=st.data(),
    table=st.dictionaries(
        st.sampled_from(REGIONS.partition_keys),
        st.lists(st.sampled_from([*COUNTRIES.partition_keys, "xx"]), max_size=4),
    ),
)
def test_static_mapping_round_trips(data: st.DataObject, table: dict[str, list[str]]) -> None:
    mapping = StaticMapping(table)
    key = data.draw(st.sampled_from(REGIONS.partition_keys))
    upstream_keys = assert_consistent(mapping, REGIONS, COUNTRIES, key)
    assert set(upstream_keys) == set(table.get(key, [])) - {"xx"}
    assert upstream_keys == sorted(upstream_keys, key=COUNTRIES.position)


@FAST
@given(
    data=st.data(),
    time_definition=time_definitions(),
    offsets=st.tuples(st.integers(-2, 1), st.integers(-2, 1)).map(sorted),
)
def test_multi_and_dimension_mappings_round_trip(
    data: st.DataObject, time_definition: TimeWindowPartitions, offsets: list[int]
) -> None:
    multi = MultiPartitions({"date": time_definition, "region": REGIONS})
    other = MultiPartitions({"date": DAILY, "region": REGIONS})
    mapping = MultiMapping({"date": TimeWindowMapping(offsets[0], offsets[1])})
    key = drawn_key(data, multi)
    if key is not None:
        assert_consistent(mapping, multi, other, key)
        assert_consistent(MultiMapping(), multi, other, key)
        assert_consistent(DimensionMapping("date", TimeWindowMapping()), multi, DAILY, key)
        assert_consistent(default_mapping(multi, REGIONS), multi, REGIONS, key)
    single = drawn_key(data, time_definition)
    if single is not None:
        assert_consistent(
            DimensionMapping("date", TimeWindowMapping()), time_definition, other, single
        )


# -- exhaustive checks on small definitions -------------------------------------------------


@pytest.mark.parametrize(
    ("downstream", "upstream"),
    [
        (MonthlyPartitions("2024-01", end="2024-04"), DailyPartitions("2024-01-01")),
        (DailyPartitions("2024-01-01", end="2024-04-01"), MonthlyPartitions("2024-01")),
        (DailyPartitions("2024-03-01", end="2024-03-15"), HourlyPartitions("2024-03-01")),
        (
            DailyPartitions("2024-03-08", end="2024-03-12", timezone="America/New_York"),
            HourlyPartitions("2024-03-01", timezone="America/New_York"),
        ),
        (
            HourlyPartitions(
                "2024-11-02T20:00", end="2024-11-03T08:00", timezone="America/New_York"
            ),
            DailyPartitions("2024-11-01", timezone="America/New_York"),
        ),
        (WeeklyPartitions("2024-01-01", end="2024-04-01"), MonthlyPartitions("2024-01")),
        (MonthlyPartitions("2024-01", end="2024-04"), WeeklyPartitions("2024-01-01")),
        (
            DailyPartitions("2024-01-01", end="2024-01-20", timezone="Asia/Seoul"),
            DailyPartitions("2024-01-05", end="2024-01-15", timezone="America/New_York"),
        ),
    ],
)
@pytest.mark.parametrize("offsets", [(0, 0), (-1, -1), (-6, 0), (-2, 3), (1, 2)])
def test_time_window_mapping_is_consistent_on_every_partition(
    downstream: TimeWindowPartitions, upstream: TimeWindowPartitions, offsets: tuple[int, int]
) -> None:
    assert_consistent_everywhere(TimeWindowMapping(*offsets), downstream, upstream)


def test_multi_mappings_are_consistent_on_every_partition() -> None:
    days = DailyPartitions("2024-01-01", end="2024-01-10")
    multi = MultiPartitions({"date": days, "region": REGIONS})
    monthly = MultiPartitions({"region": REGIONS, "date": MonthlyPartitions("2024-01")})
    assert_consistent_everywhere(MultiMapping({"date": TimeWindowMapping(-1, -1)}), multi, multi)
    assert_consistent_everywhere(default_mapping(monthly, multi), monthly, multi)
    assert_consistent_everywhere(default_mapping(multi, monthly), multi, monthly)
    assert_consistent_everywhere(default_mapping(days, multi), days, multi)
    assert_consistent_everywhere(default_mapping(multi, days), multi, days)
    assert_consistent_everywhere(IdentityMapping(), multi, multi)
    assert_consistent_everywhere(AllPartitionsMapping(), UNPARTITIONED, multi)
    assert_consistent_everywhere(LastPartitionMapping(), multi, days)


# -- time windows ---------------------------------------------------------------------------


def test_previous_day_of_the_first_day_is_empty() -> None:
    previous = TimeWindowMapping(start_offset=-1, end_offset=-1)
    assert previous.upstream_keys("2024-01-01", DAILY, DAILY, NOW) == []
    assert previous.upstream_keys("2024-01-05", DAILY, DAILY, NOW) == ["2024-01-04"]
    assert previous.downstream_keys("2024-01-04", DAILY, DAILY, NOW) == ["2024-01-05"]
    # The last due day is read by tomorrow, which does not exist yet.
    assert previous.downstream_keys("2024-06-14", DAILY, DAILY, NOW) == []


def test_coarser_and_finer_windows() -> None:
    monthly = MonthlyPartitions("2024-01")
    default = TimeWindowMapping()
    february = default.upstream_keys("2024-02", monthly, DAILY, NOW)
    assert february[0] == "2024-02-01"
    assert february[-1] == "2024-02-29"
    assert len(february) == 29
    assert default.downstream_keys("2024-02-10", monthly, DAILY, NOW) == ["2024-02"]
    # Finer from coarser: the month holding the day, due or not (the planner decides).
    assert default.upstream_keys("2024-06-14", DAILY, monthly, NOW) == ["2024-06"]
    assert default.downstream_keys("2024-06", DAILY, monthly, NOW)[-1] == "2024-06-14"
    weekly = WeeklyPartitions("2024-01-01")
    assert default.upstream_keys("2024-01-29", weekly, monthly, NOW) == ["2024-01", "2024-02"]
    assert default.upstream_keys("2024-02", monthly, weekly, NOW) == [
        "2024-01-29",
        "2024-02-05",
        "2024-02-12",
        "2024-02-19",
        "2024-02-26",
    ]
    hourly = HourlyPartitions("2024-01-01", timezone="Asia/Seoul")
    day = default.upstream_keys("2024-03-05", DAILY, hourly, NOW)
    assert (day[0], day[-1], len(day)) == ("2024-03-05T09:00", "2024-03-06T08:00", 24)


def test_offsets_shift_the_window_and_results_are_clipped() -> None:
    rolling = TimeWindowMapping(start_offset=-6, end_offset=0)
    assert rolling.upstream_keys("2024-01-10", DAILY, DAILY, NOW) == [
        f"2024-01-{d:02d}" for d in range(4, 11)
    ]
    assert rolling.upstream_keys("2024-01-03", DAILY, DAILY, NOW) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    assert len(rolling.downstream_keys("2024-01-04", DAILY, DAILY, NOW)) == 7
    short = DailyPartitions("2024-01-01", end="2024-01-10")
    assert TimeWindowMapping(0, 5).upstream_keys("2024-01-08", DAILY, short, NOW) == [
        "2024-01-08",
        "2024-01-09",
    ]
    assert TimeWindowMapping().upstream_keys("2024-02-01", DAILY, short, NOW) == []
    # Offsets count downstream periods (tests/test_mappings_offsets.py): the day before.
    previous_day = TimeWindowMapping(-1, -1)
    monthly = MonthlyPartitions("2024-01")
    assert previous_day.upstream_keys("2024-03-15", DAILY, monthly, NOW) == ["2024-03"]
    assert previous_day.upstream_keys("2024-03-01", DAILY, monthly, NOW) == ["2024-02"]
    with pytest.raises(PartitionError, match="before the start"):
        TimeWindowMapping().upstream_keys("2023-12-31", DAILY, monthly, NOW)


def test_time_window_mapping_declarations() -> None:
    with pytest.raises(DefinitionError, match="start_offset must not be greater"):
        TimeWindowMapping(start_offset=0, end_offset=-1)
    with pytest.raises(DefinitionError, match="integers"):
        TimeWindowMapping(start_offset=0.5)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="needs time partitions on both sides"):
        TimeWindowMapping().validate(DAILY, REGIONS)
    assert TimeWindowMapping(-1, -1).describe() == "time_window(-1, -1)"
    assert str(TimeWindowMapping()) == "time_window(0, 0)"
    assert len({TimeWindowMapping(-1, -1), TimeWindowMapping(-1, -1), IdentityMapping()}) == 2


# -- all, last, static, identity --------------------------------------------------------------


def test_all_and_last_use_the_keys_due_now() -> None:
    month = DailyPartitions("2024-06-01")
    assert AllPartitionsMapping().upstream_keys("-", UNPARTITIONED, month, NOW) == [
        f"2024-06-{d:02d}" for d in range(1, 15)
    ]
    assert AllPartitionsMapping().upstream_keys("2024-01-01", DAILY, UNPARTITIONED) == ["-"]
    assert AllPartitionsMapping().downstream_keys("2024-06-20", UNPARTITIONED, month, NOW) == []
    assert LastPartitionMapping().upstream_keys("-", UNPARTITIONED, month, NOW) == ["2024-06-14"]
    assert LastPartitionMapping().downstream_keys("2024-06-14", UNPARTITIONED, month, NOW) == ["-"]
    assert LastPartitionMapping().downstream_keys("2024-06-13", UNPARTITIONED, month, NOW) == []
    early = datetime(2024, 5, 1, tzinfo=UTC)
    assert LastPartitionMapping().upstream_keys("-", UNPARTITIONED, month, early) == []
    assert AllPartitionsMapping().describe() == "all"
    assert LastPartitionMapping().describe() == "last"


def test_static_mapping() -> None:
    mapping = StaticMapping({"eu": ["fr", "de"], "us": "us"})
    assert mapping.upstream_keys("eu", REGIONS, COUNTRIES) == ["de", "fr"]
    assert mapping.upstream_keys("us", REGIONS, COUNTRIES) == ["us"]
    assert mapping.upstream_keys("apac", REGIONS, COUNTRIES) == []
    assert mapping.downstream_keys("de", REGIONS, COUNTRIES) == ["eu"]
    assert mapping.downstream_keys("jp", REGIONS, COUNTRIES) == []
    mapping.validate(REGIONS, COUNTRIES)
    assert mapping.describe() == "static{eu: [fr, de], us: [us]}"
    assert hash(mapping) == hash(StaticMapping({"eu": ("fr", "de"), "us": ["us"]}))
    with pytest.raises(DefinitionError, match="names upstream key 'xx'"):
        StaticMapping({"eu": ["xx"]}).validate(REGIONS, COUNTRIES)
    with pytest.raises(DefinitionError, match="names downstream key 'mars'"):
        StaticMapping({"mars": ["de"]}).validate(REGIONS, COUNTRIES)


def test_identity_mapping() -> None:
    later = DailyPartitions("2024-03-01")
    assert IdentityMapping().upstream_keys("2024-03-05", DAILY, later) == ["2024-03-05"]
    assert IdentityMapping().upstream_keys("2024-02-05", DAILY, later) == []
    assert IdentityMapping().downstream_keys("2024-06-14", DAILY, later, NOW) == ["2024-06-14"]
    assert IdentityMapping().downstream_keys("2024-06-15", DAILY, later, NOW) == []
    IdentityMapping().validate(DAILY, later)
    IdentityMapping().validate(REGIONS, StaticPartitions(["eu"]))
    with pytest.raises(DefinitionError, match="same kind of partitions"):
        IdentityMapping().validate(DAILY, MonthlyPartitions("2024-01"))
    with pytest.raises(DefinitionError, match="same kind of partitions"):
        IdentityMapping().validate(DAILY, DailyPartitions("2024-01-01", timezone="Asia/Seoul"))
    assert IdentityMapping().describe() == "identity"


# -- multi ----------------------------------------------------------------------------------


def test_multi_mapping_maps_dimension_by_dimension() -> None:
    multi = MultiPartitions({"date": DAILY, "region": REGIONS})
    previous = MultiMapping({"date": TimeWindowMapping(-1, -1)})
    assert previous.upstream_keys("2024-01-05|us", multi, multi, NOW) == ["2024-01-04|us"]
    assert previous.upstream_keys("2024-01-01|us", multi, multi, NOW) == []
    assert previous.downstream_keys("2024-01-04|us", multi, multi, NOW) == ["2024-01-05|us"]
    assert previous.describe() == "multi{date: time_window(-1, -1)}"
    swapped = MultiPartitions({"region": REGIONS, "date": MonthlyPartitions("2024-01")})
    assert MultiMapping().upstream_keys("2024-01-31|eu", multi, swapped, NOW) == ["eu|2024-01"]
    regions = MultiMapping({"region": StaticMapping({"eu": ["eu", "us"]})})
    assert regions.upstream_keys("2024-01-31|eu", multi, multi, NOW) == [
        "2024-01-31|eu",
        "2024-01-31|us",
    ]
    with pytest.raises(DefinitionError, match="unknown dimension"):
        MultiMapping({"country": IdentityMapping()}).validate(multi, multi)
    with pytest.raises(DefinitionError, match="same dimensions"):
        MultiMapping().validate(multi, MultiPartitions({"date": DAILY, "country": COUNTRIES}))
    with pytest.raises(DefinitionError, match="multi partitions on both sides"):
        MultiMapping().validate(multi, DAILY)
    with pytest.raises(DefinitionError, match="needs a partition mapping"):
        MultiMapping({"date": "identity"})  # type: ignore[dict-item]


def test_dimension_mapping_between_multi_and_single() -> None:
    multi = MultiPartitions({"date": DAILY, "region": REGIONS})
    by_date = DimensionMapping("date", TimeWindowMapping())
    assert by_date.upstream_keys("2024-01-31|eu", multi, DAILY, NOW) == ["2024-01-31"]
    assert by_date.downstream_keys("2024-01-31", multi, DAILY, NOW) == [
        "2024-01-31|eu",
        "2024-01-31|us",
        "2024-01-31|apac",
    ]
    assert by_date.upstream_keys("2024-01-31", DAILY, multi, NOW) == [
        "2024-01-31|eu",
        "2024-01-31|us",
        "2024-01-31|apac",
    ]
    assert by_date.downstream_keys("2024-01-31|us", DAILY, multi, NOW) == ["2024-01-31"]
    by_region = DimensionMapping("region", IdentityMapping())
    assert by_region.upstream_keys("us", REGIONS, multi, NOW)[:2] == [
        "2024-01-01|us",
        "2024-01-02|us",
    ]
    by_date.validate(multi, DAILY)
    by_date.validate(DAILY, multi)
    with pytest.raises(DefinitionError, match="exactly one side"):
        by_date.validate(multi, multi)
    with pytest.raises(DefinitionError, match="not a dimension"):
        DimensionMapping("day", TimeWindowMapping()).validate(multi, DAILY)
    assert by_date.describe() == "dimension(date: time_window(0, 0))"


# -- defaults -------------------------------------------------------------------------------


def test_default_mapping_table() -> None:
    monthly = MonthlyPartitions("2024-01")
    multi = MultiPartitions({"date": DAILY, "region": REGIONS})
    monthly_multi = MultiPartitions({"date": monthly, "region": REGIONS})
    assert default_mapping(DAILY, UNPARTITIONED) == AllPartitionsMapping()
    assert default_mapping(UNPARTITIONED, UNPARTITIONED) == AllPartitionsMapping()
    assert default_mapping(DAILY, UNPARTITIONED).upstream_keys(
        "2024-01-02", DAILY, UNPARTITIONED
    ) == ["-"]
    assert default_mapping(UNPARTITIONED, DAILY) == AllPartitionsMapping()
    assert default_mapping(DAILY, DailyPartitions(date(2024, 1, 1))) == IdentityMapping()
    assert default_mapping(REGIONS, StaticPartitions(["eu", "us", "apac"])) == IdentityMapping()
    assert default_mapping(monthly, DAILY) == TimeWindowMapping(0, 0)
    assert default_mapping(DAILY, monthly) == TimeWindowMapping(0, 0)
    assert default_mapping(DAILY, DailyPartitions("2023-01-01")) == TimeWindowMapping(0, 0)
    assert default_mapping(multi, multi) == IdentityMapping()
    assert default_mapping(monthly_multi, multi) == MultiMapping(
        {"date": TimeWindowMapping(), "region": IdentityMapping()}
    )
    assert default_mapping(multi, DAILY) == DimensionMapping("date", IdentityMapping())
    assert default_mapping(monthly, multi) == DimensionMapping("date", TimeWindowMapping())
    assert default_mapping(REGIONS, multi) == DimensionMapping("region", IdentityMapping())
    assert default_mapping(multi, REGIONS) == DimensionMapping("region", IdentityMapping())
    for downstream, upstream in [
        (REGIONS, COUNTRIES),
        (DAILY, REGIONS),
        (REGIONS, DAILY),
        (multi, COUNTRIES),
        (MultiPartitions({"a": REGIONS, "b": COUNTRIES}), DAILY),
        (multi, MultiPartitions({"date": DAILY, "country": COUNTRIES})),
        (multi, MultiPartitions({"date": DAILY, "region": COUNTRIES})),
    ]:
        with pytest.raises(
            DefinitionError, match=r"no default mapping from .*declare one in deps="
        ):
            default_mapping(downstream, upstream)


def test_default_mapping_error_names_both_definitions() -> None:
    with pytest.raises(DefinitionError) as error:
        default_mapping(REGIONS, COUNTRIES)
    assert str(error.value) == (
        "no default mapping from static [de, fr, us, jp, kr] to static [eu, us, apac]; "
        "declare one in deps="
    )


# -- self-dependency ------------------------------------------------------------------------


def test_self_dependency_needs_a_negative_time_offset() -> None:
    check_self_dependency(TimeWindowMapping(-1, -1), DAILY, "running_total")
    check_self_dependency(TimeWindowMapping(-7, -1), DAILY, "running_total")
    multi = MultiPartitions({"date": DAILY, "region": REGIONS})
    check_self_dependency(MultiMapping({"date": TimeWindowMapping(-1, -1)}), multi, "by_region")
    message = (
        "asset 'running_total' depends on itself; that needs deps={'running_total': "
        "TimeWindowMapping(start_offset=-1, end_offset=-1)} (a negative offset)"
    )
    for mapping in [None, TimeWindowMapping(), TimeWindowMapping(-1, 0), IdentityMapping()]:
        with pytest.raises(DefinitionError) as error:
            check_self_dependency(mapping, DAILY, "running_total")
        assert str(error.value) == message
    with pytest.raises(DefinitionError, match="only a time-partitioned asset"):
        check_self_dependency(TimeWindowMapping(-1, -1), REGIONS, "regional")
    with pytest.raises(DefinitionError, match="asset 'totals' depends on itself"):
        check_self_dependency(TimeWindowMapping(-1, -1), UNPARTITIONED, "totals")
    with pytest.raises(DefinitionError, match=r"MultiMapping\(\{'date'"):
        check_self_dependency(MultiMapping(), multi, "by_region")


def test_expanding_a_thousand_partitions_through_the_common_mappings() -> None:
    # Speed is measured in benchmarks/; this checks the results of the common edges in bulk.
    daily = DailyPartitions("2021-01-01")
    other = DailyPartitions("2021-01-01")
    monthly = MonthlyPartitions("2021-01")
    keys = daily.keys(NOW)[:1000]
    for index, key in enumerate(keys):
        assert IdentityMapping().upstream_keys(key, daily, other, NOW) == [key]
        previous = TimeWindowMapping(-1, -1).upstream_keys(key, daily, other, NOW)
        assert previous == ([keys[index - 1]] if index else [])
        assert TimeWindowMapping().downstream_keys(key, monthly, daily, NOW) == [key[:7]]
        assert TimeWindowMapping().upstream_keys(key, daily, monthly, NOW) == [key[:7]]
