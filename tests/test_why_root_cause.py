"""``why`` names the event that changed an upstream's data version: the latest success of the
upstream that brought in the data version it holds now, and why that one differed from the
success before it (its code changed, or new data with the same code).

First the issue's scenario through the real command line (pinned ``code_version``, ``orders``
rematerialized with the same data, then one day's data changed), then the rule as a property
over short histories of one upstream, simulated in memory (``planner_sim``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import ProjectFactory, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from planner_sim import History, keep_data, new_data

from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.explain import why
from assetflow.records import ReasonKind

PIPELINE = """\
import json
import pathlib

from assetflow import DailyPartitions, asset

HERE = pathlib.Path(__file__).resolve().parent
DAYS = DailyPartitions(start="2024-02-13", end="2024-02-17")


def bump(day):
    return json.loads((HERE / "settings.json").read_text()).get(day, 0)


@asset(partitions=DAYS{pin})
def orders(context):
    return context.warehouse.sql(
        "select $day::date as day, 10 + $bump::int as amount",
        params={{"day": context.partition_key, "bump": bump(context.partition_key)}},
    )


@asset(partitions=DAYS)
def orders_cleaned(orders):
    return orders.filter("amount > 0")
"""


def cli(args: list[str], cwd: Path) -> str:
    code, out, err = run_cli(args, cwd)
    assert code == 0, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    return out


def cli_json(args: list[str], cwd: Path) -> Any:
    return json.loads(cli([*args, "--json"], cwd))


def write(folder: Path, pin: str, bumps: dict[str, int]) -> None:
    (folder / "pipeline.py").write_text(PIPELINE.format(pin=pin))
    (folder / "settings.json").write_text(json.dumps(bumps))


def test_new_data_after_a_pinned_code_version_is_blamed_on_the_data(
    make_project: ProjectFactory,
) -> None:
    folder = make_project(pipeline="")
    write(folder, "", {})
    assert cli_json(["materialize", "orders_cleaned"], folder)["status"] == "success"

    # Pinning the code version stales orders (code_changed); rematerialized, the data is the
    # same, so orders_cleaned stays fresh (early cutoff).
    write(folder, ', code_version="1"', {})
    pinned = cli_json(["materialize", "orders"], folder)
    assert {s["asset"] for s in pinned["steps"]} == {"orders"}
    status = cli_json(["status", "orders_cleaned", "--partitions"], folder)
    assert {r["status"] for r in status["partitions"]} == {"fresh"}

    # One day's data changes; the code version stays "1".
    write(folder, ', code_version="1"', {"2024-02-15": 5})
    changed = cli_json(["materialize", "orders", "--partition", "2024-02-15", "--force"], folder)
    assert changed["status"] == "success"

    text = cli(["why", "orders_cleaned", "2024-02-15"], folder)
    lines = text.splitlines()
    assert lines[0].startswith(
        "orders_cleaned[2024-02-15] is stale: upstream orders[2024-02-15] changed"
    ), text
    assert lines[1] == f"  because data of orders[2024-02-15] changed (run {changed['run_id']})"
    assert "code" not in text
    chain = cli_json(["why", "orders_cleaned", "2024-02-15"], folder)["chain"]
    assert chain[0]["cause"] == lines[1].strip()

    # A real code change with new data is still blamed on the code.
    write(folder, ', code_version="2"', {"2024-02-15": 5, "2024-02-16": 7})
    cli(["materialize", "orders", "--partition", "2024-02-16"], folder)
    text = cli(["why", "orders_cleaned", "2024-02-16"], folder)
    assert text.splitlines()[1] == "  because code of orders changed (1 → 2)", text

    # Pruning all history keeps what these explanations rest on.
    before = [cli(["why", "orders_cleaned", day], folder) for day in ("2024-02-15", "2024-02-16")]
    pruned = cli_json(["history", "prune", "--before", "2999-01-01", "--yes"], folder)
    assert pruned["deleted"]["materializations"] > 0
    after = [cli(["why", "orders_cleaned", day], folder) for day in ("2024-02-15", "2024-02-16")]
    assert after == before


# -- the rule, over short simulated histories ---------------------------------------------------

NOW = datetime(2024, 2, 1, tzinfo=UTC)
# What can happen to the upstream after the downstream read it: new code with the same data,
# new code with new data, new data with the same code, or the same data again.
EVENTS = ("code_same", "code_new", "data", "same")


def two_assets() -> History:
    graph = AssetGraph(
        [
            AssetDef("up", code_version="c0"),
            AssetDef("down", deps=(AssetDep("up"),), code_version="d0"),
        ]
    )
    return History(graph, NOW)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(EVENTS), max_size=6), st.integers(min_value=0, max_value=3))
def test_the_cause_is_the_latest_event_that_changed_the_data_version(
    events: list[str], before: int
) -> None:
    history = two_assets()
    # Some history of the upstream before the downstream reads it.
    for i in range(1 + before):
        if i % 2:
            history.change_code("up", f"b{i}")
        history.rematerialize("up", same=False)
    history.materialize("down")

    # The expected cause, kept from the events themselves (not from the records).
    expected: str | None = None
    for number, event in enumerate(events):
        history.now = NOW.replace(day=2 + number)
        old_code = history.graph["up"].code_version
        if event.startswith("code"):
            history.change_code("up", f"e{number}")
        same = event in ("code_same", "same")
        success = history.materialize("up", data=keep_data if same else new_data)
        if not same:
            expected = (
                f"because code of up changed ({old_code} → {success.code_version})"
                if event == "code_new"
                else f"because data of up changed (run sim-{success.materialization_id})"
            )

    links = why(history.evaluator(), "down", "-", history.successes)
    first = links[0].reasons[0] if links[0].reasons else None
    if expected is None:
        assert first is None or first.kind is not ReasonKind.UPSTREAM_CHANGED
    else:
        assert first is not None and first.kind is ReasonKind.UPSTREAM_CHANGED
        assert links[0].cause == expected, history.log
