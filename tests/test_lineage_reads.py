"""``lineage``: the walk over recorded lineage reads the state file set-based (one open, one
query per hop however many materializations there are) and lists nodes by asset then partition.

The project: ``raw`` (daily), ``clean`` (daily, from ``raw``) and ``report`` (unpartitioned,
from every day of ``clean``), with ``DAYS`` days taken from ``days.txt`` so that one test can
make the same lineage shape at two sizes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import ProjectFactory, run_cli

from assetflow import Project
from assetflow.store import session

PIPELINE = """\
import pathlib

from assetflow import DailyPartitions, asset

HERE = pathlib.Path(__file__).resolve().parent
COUNT = int((HERE / "days.txt").read_text())
DAYS = DailyPartitions(start="2024-01-01", end=f"2024-{1 + COUNT // 31:02d}-{1 + COUNT % 31:02d}")


@asset(partitions=DAYS)
def raw(context):
    return context.warehouse.sql("select $day::date as day", params={"day": context.partition_key})


@asset(partitions=DAYS)
def clean(raw):
    return raw.select("day")


@asset
def report(clean):
    return clean.aggregate("count(*) as days")
"""


def make(make_project: ProjectFactory, days: int, name: str) -> Path:
    """The project with ``days`` days (< 31*12), everything materialized by one CLI run."""
    folder = make_project(pipeline=PIPELINE, name=name)
    (folder / "days.txt").write_text(str(days))
    code, _, err = run_cli(["materialize", "report"], folder, timeout=120)
    assert code == 0, err
    return folder


def keys(days: int) -> list[str]:
    return [f"2024-{1 + d // 31:02d}-{1 + d % 31:02d}" for d in range(days)]


def lineage_json(folder: Path, *args: str) -> dict[str, Any]:
    code, out, err = run_cli(["lineage", *args, "--json"], folder)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def named(document: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """Nodes as ``asset[partition]`` in document order, edges as pairs of those names."""
    names = {n["materialization_id"]: f"{n['asset']}[{n['partition']}]" for n in document["nodes"]}
    nodes = [names[n["materialization_id"]] for n in document["nodes"]]
    edges = [(names[e["from"]], names[e["to"]]) for e in document["edges"]]
    return nodes, edges


def test_lineage_lists_the_known_graph_sorted_by_asset_then_partition(
    make_project: ProjectFactory,
) -> None:
    days = keys(12)
    folder = make(make_project, 12, "twelve")

    upstream = lineage_json(folder, "report", "--upstream")
    nodes, edges = named(upstream)
    expected_nodes = [f"clean[{d}]" for d in days] + [f"raw[{d}]" for d in days] + ["report[-]"]
    assert nodes == expected_nodes
    expected_edges = sorted(
        [(f"clean[{d}]", "report[-]") for d in days] + [(f"raw[{d}]", f"clean[{d}]") for d in days]
    )
    assert edges == expected_edges
    root = next(n for n in upstream["nodes"] if n["materialization_id"] == upstream["root"])
    assert (root["asset"], root["partition"]) == ("report", "-")

    # The text form lists the root's neighbours in the same order.
    code, out, err = run_cli(["lineage", "report", "--upstream"], folder)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("report[-] ")
    assert [line.split()[1] for line in lines[1:13]] == [f"clean[{d}]" for d in days]
    assert lines[13] == "  (12 more further away; see --json)"

    # Both ways around a middle node; one hop.
    middle = lineage_json(folder, "clean", days[3])
    assert named(middle) == (
        [f"clean[{days[3]}]", f"raw[{days[3]}]", "report[-]"],
        [(f"clean[{days[3]}]", "report[-]"), (f"raw[{days[3]}]", f"clean[{days[3]}]")],
    )
    downstream = lineage_json(folder, "raw", days[0], "--downstream")
    assert named(downstream) == (
        [f"clean[{days[0]}]", f"raw[{days[0]}]", "report[-]"],
        [(f"clean[{days[0]}]", "report[-]"), (f"raw[{days[0]}]", f"clean[{days[0]}]")],
    )
    one_hop = lineage_json(folder, "report", "--upstream", "--depth", "1")
    assert named(one_hop)[0] == [f"clean[{d}]" for d in days] + ["report[-]"]
    # Every node carries its record.
    for node in upstream["nodes"]:
        assert set(node) >= {"asset", "partition", "materialization_id", "data_version", "run_id"}
        assert node["data_version"]


class _Counting:
    """A connection that counts the queries run through it."""

    def __init__(self, connection: Any, counts: dict[str, int]) -> None:
        self._connection = connection
        self._counts = counts

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counts["queries"] += 1
        return self._connection.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def reads_of_lineage(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times ``lineage report --upstream`` opens the state file and queries it."""
    project = Project.load(folder)
    counts = {"opens": 0, "queries": 0}
    real = session.open_connection

    @contextmanager
    def counting(*args: Any, **kwargs: Any) -> Iterator[Any]:
        counts["opens"] += 1
        with real(*args, **kwargs) as connection:
            yield _Counting(connection, counts)

    with monkeypatch.context() as patch:
        patch.setattr(session, "open_connection", counting)
        document = project.lineage("report", direction="upstream")
    assert len(document["nodes"]) > 1
    return counts


def test_lineage_reads_do_not_grow_with_the_number_of_materializations(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, clean_imports: None
) -> None:
    small = reads_of_lineage(make(make_project, 3, "small"), monkeypatch)
    large = reads_of_lineage(make(make_project, 40, "large"), monkeypatch)
    assert small == large
    assert small["opens"] == 1
