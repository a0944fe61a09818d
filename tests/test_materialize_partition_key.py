"""``--partition K`` / ``--from A --to B`` over a selection that spans several partition
definitions: the key applies to the assets whose definition has it, time-partitioned assets
take the overlapping windows, and the others (here a static one) the partitions the mappings
give; an error only when no selected asset has the key.

The project: ``raw_events`` (hourly, June 1-2 2024) -> ``daily_events`` (daily) ->
``region_report`` (static ``eu``/``us``; ``eu`` reads June 1, ``us`` June 2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import ProjectFactory, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow import (
    AllPartitionsMapping,
    DailyPartitions,
    HourlyPartitions,
    LastPartitionMapping,
    MultiPartitions,
    StaticMapping,
    StaticPartitions,
)
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.errors import PartitionError
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.targets import resolve_targets

PIPELINE = """\
from assetflow import DailyPartitions, HourlyPartitions, StaticMapping, StaticPartitions, asset

HOURS = HourlyPartitions(start="2024-06-01T00:00", end="2024-06-03T00:00")
DAYS = DailyPartitions(start="2024-06-01", end="2024-06-03")
REGIONS = StaticPartitions(["eu", "us"])


@asset(partitions=HOURS)
def raw_events(context):
    return context.warehouse.sql("select $h as hour", params={"h": context.partition_key})


@asset(partitions=DAYS)
def daily_events(raw_events):
    return raw_events.aggregate("count(*) as n")


@asset(
    partitions=REGIONS,
    deps={"daily_events": StaticMapping({"eu": ["2024-06-01"], "us": ["2024-06-02"]})},
)
def region_report(daily_events):
    return daily_events.aggregate("sum(n) as n")
"""

JUNE_1 = [f"2024-06-01T{hour:02d}:00" for hour in range(24)]


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    return make_project(pipeline=PIPELINE)


def cli_json(args: list[str], cwd: Path, expect: int = 0) -> Any:
    code, out, err = run_cli([*args, "--json"], cwd)
    assert code == expect, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    return json.loads(out)


def names(document: dict[str, Any]) -> list[str]:
    return [f"{s['asset']}[{s['partition']}]" for s in document["steps"]]


def test_materialize_a_key_of_the_first_asset_runs_what_the_mappings_give_downstream(
    project: Path,
) -> None:
    assert cli_json(["materialize", "raw_events"], project)["status"] == "success"

    run = cli_json(["materialize", "raw_events+", "--partition", "2024-06-01T06:00"], project)
    assert run["status"] == "success"
    # The hour is fresh already; its day and the region reading that day are made.
    assert names(run) == ["daily_events[2024-06-01]", "region_report[eu]"]

    forced = cli_json(
        ["plan", "raw_events+", "--partition", "2024-06-01T06:00", "--force"], project
    )
    assert names(forced) == [
        "raw_events[2024-06-01T06:00]",
        "daily_events[2024-06-01]",
        "region_report[eu]",
    ]


def test_backfill_downstream_follows_the_same_mappings(project: Path) -> None:
    run = cli_json(
        [
            "backfill",
            "raw_events",
            "--downstream",
            "--from",
            "2024-06-02T22:00",
            "--to",
            "2024-06-02T23:00",
        ],
        project,
    )
    assert run["status"] == "success"
    steps = names(run)
    assert steps[-2:] == ["daily_events[2024-06-02]", "region_report[us]"]
    assert {"raw_events[2024-06-02T22:00]", "raw_events[2024-06-02T23:00]"} <= set(steps)
    assert not any(s.startswith("region_report[eu]") for s in steps)


def test_a_static_key_maps_upstream_too(project: Path) -> None:
    plan = cli_json(["plan", "+region_report", "--partition", "eu", "--force", "--only"], project)
    assert sorted(names(plan)) == sorted(
        [f"raw_events[{hour}]" for hour in JUNE_1]
        + ["daily_events[2024-06-01]", "region_report[eu]"]
    )


def test_a_key_no_selected_asset_has_is_an_error(project: Path) -> None:
    for selection, key in [
        ("raw_events+", "2024-07-01T00:00"),
        ("region_report", "2024-06-01T06:00"),
    ]:
        code, out, err = run_cli(["materialize", selection, "--partition", key], project)
        assert code == 2, (selection, out, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and key in lines[0], err
        assert "Traceback" not in err


# -- the rule over generated selections and keys -------------------------------------------------

NOW = datetime(2024, 6, 10, tzinfo=UTC)
HOURS = HourlyPartitions(start="2024-06-01T00:00", end="2024-06-03T00:00")
DAYS = DailyPartitions(start="2024-06-01", end="2024-06-03")
REGIONS = StaticPartitions(["eu", "us"])


def mixed_graph() -> AssetGraph:
    """Hourly, daily, static (three mappings), multi and unpartitioned assets, upstream and
    downstream of each other."""
    return AssetGraph(
        [
            AssetDef("products"),
            AssetDef("catalog", partitions=StaticPartitions(["x", "y"])),
            AssetDef("raw", partitions=HOURS),
            AssetDef(
                "daily",
                partitions=DAYS,
                deps=(AssetDep("raw"), AssetDep("catalog", AllPartitionsMapping())),
            ),
            AssetDef(
                "regions",
                partitions=REGIONS,
                deps=(
                    AssetDep("daily", StaticMapping({"eu": ["2024-06-01"], "us": ["2024-06-02"]})),
                    AssetDep("products"),
                ),
            ),
            AssetDef(
                "latest",
                partitions=StaticPartitions(["a", "b"]),
                deps=(AssetDep("daily", LastPartitionMapping()),),
            ),
            AssetDef(
                "grid",
                partitions=MultiPartitions({"date": DAYS, "region": REGIONS}),
                deps=(AssetDep("daily"),),
            ),
            AssetDef("region_totals", partitions=REGIONS, deps=(AssetDep("regions"),)),
            AssetDef("summary", deps=(AssetDep("region_totals"),)),
            AssetDef(
                "sidecar",
                partitions=StaticPartitions(["s1", "s2"]),
                deps=(AssetDep("catalog", AllPartitionsMapping()),),
            ),
        ]
    )


GRAPH = mixed_graph()
ORDER = GRAPH.topological_order()
EVERY_KEY = {key for name in ORDER for key in GRAPH[name].partitions.keys(NOW)}
KEYS = [*sorted(EVERY_KEY), "2024-07-01", "nope"]


def has_key(name: str, key: str) -> bool:
    try:
        GRAPH[name].partitions.validate_key(key, NOW)
    except PartitionError:
        return False
    return GRAPH[name].partitions.kind != "none"


@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from(ORDER), min_size=1), st.sampled_from(KEYS))
def test_a_key_targets_its_assets_and_what_their_mappings_give(chosen: set[str], key: str) -> None:
    selected = [name for name in ORDER if name in chosen]
    keyed = [name for name in selected if has_key(name, key)]
    if not keyed:
        with pytest.raises(PartitionError):
            resolve_targets(GRAPH, selected, NOW, partition=key)
        return
    targets = resolve_targets(GRAPH, selected, NOW, partition=key)
    by_asset: dict[str, set[str]] = {}
    for asset, partition in targets:
        by_asset.setdefault(asset, set()).add(partition)
    assert set(by_asset) <= set(selected)
    for name in keyed:
        assert by_asset[name] == {key}
    time_based = {n for n in selected if GRAPH[n].partitions.kind in ("hourly", "daily")}
    seeds = set(keyed) | time_based
    mapped = [n for n in selected if n not in seeds and GRAPH[n].partitions.kind != "none"]
    for name in mapped:
        readers = [m for m in GRAPH.downstream(name) if m in by_asset and m != name]
        for partition in by_asset.get(name, ()):
            # Each partition follows from a partitioned target by one mapping edge.
            assert any(
                partition
                in GRAPH.mapping(name, dep).downstream_keys(
                    up, GRAPH[name].partitions, GRAPH[dep].partitions, NOW
                )
                for dep in GRAPH[name].dep_names
                if dep in by_asset and GRAPH[dep].partitions.kind != "none"
                for up in by_asset[dep]
            ) or any(
                partition
                in GRAPH.mapping(reader, name).upstream_keys(
                    down, GRAPH[reader].partitions, GRAPH[name].partitions, NOW
                )
                for reader in readers
                if GRAPH[reader].partitions.kind != "none"
                for down in by_asset[reader]
            ), (name, partition)
        # Everything that reads a keyed partition directly is a target.
        for dep in GRAPH[name].dep_names:
            if dep in keyed:
                wanted = GRAPH.mapping(name, dep).downstream_keys(
                    key, GRAPH[name].partitions, GRAPH[dep].partitions, NOW
                )
                assert set(wanted) <= by_asset.get(name, set()), (name, dep, wanted)
