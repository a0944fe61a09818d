"""``why`` and ``plan`` stay readable when a partition has hundreds of reasons or a plan hundreds
of steps: reasons beyond the first are grouped per upstream asset and kind with counts, a plan
is summed up per asset; ``--all`` lists every line, ``--json`` stays complete.

The project: ``orders`` (daily, Jan-Feb 2024) -> ``cleaned`` (daily) -> ``monthly`` (monthly),
and ``report`` (unpartitioned) reading every ``monthly`` and every ``cleaned`` day. ``cleaned``
takes its code version from ``version.txt``, so a test changes it without editing code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

PIPELINE = """\
import pathlib

from assetflow import DailyPartitions, MonthlyPartitions, asset

HERE = pathlib.Path(__file__).resolve().parent
DAYS = DailyPartitions(start="2024-01-01", end="2024-03-01")
MONTHS = MonthlyPartitions(start="2024-01", end="2024-03")


@asset(partitions=DAYS)
def orders(context):
    return context.warehouse.sql("select $day::date as day", params={"day": context.partition_key})


@asset(partitions=DAYS, code_version=(HERE / "version.txt").read_text().strip())
def cleaned(orders):
    return orders.select("day")


@asset(partitions=MONTHS)
def monthly(cleaned):
    return cleaned.aggregate("count(*) as days")


@asset
def report(monthly, cleaned):
    return monthly.aggregate("sum(days) as days")
"""

DAY_COUNT = 60


def cli(args: list[str], cwd: Path) -> str:
    code, out, err = run_cli(args, cwd)
    assert code == 0, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return out


def cli_json(args: list[str], cwd: Path) -> Any:
    return json.loads(cli([*args, "--json"], cwd))


@pytest.fixture(scope="module")
def stale_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything materialized, then ``cleaned``'s code version changed: every day of
    ``cleaned`` is stale (code_changed), and through it both months and the report."""
    from helpers import write_project

    folder = write_project(tmp_path_factory.mktemp("grouping"), pipeline=PIPELINE)
    (folder / "version.txt").write_text("1")
    cli(["materialize", "report"], folder)
    (folder / "version.txt").write_text("2")
    return folder


def test_why_groups_the_other_reasons_per_asset_with_counts(stale_project: Path) -> None:
    text = cli(["why", "report"], stale_project)
    lines = text.splitlines()
    assert lines[0] == "report is stale: upstream monthly[2024-01] is stale", text
    assert lines[1:3] == [
        "  also: upstream monthly[2024-02] is stale",
        f"  also: {DAY_COUNT} partitions of cleaned upstream_stale (2024-01-01 … 2024-02-29)",
    ], text
    assert lines[3] == "  monthly[2024-01] is stale: upstream cleaned[2024-01-01] is stale"
    assert lines[4] == "    also: 30 partitions of cleaned upstream_stale (2024-01-02 … 2024-01-31)"
    assert lines[5].startswith("    cleaned[2024-01-01] is stale: code of cleaned changed (1 → 2)")
    assert len(lines) == 6, text


def test_why_all_lists_every_reason_and_json_stays_complete(stale_project: Path) -> None:
    chain = cli_json(["why", "report"], stale_project)["chain"]
    assert [len(link["reasons"]) for link in chain] == [2 + DAY_COUNT, 31, 1]
    for link in chain:
        assert set(link) == {"asset", "partition", "status", "reasons", "depth", "cause"}

    lines = cli(["why", "report", "--all"], stale_project).splitlines()
    also = [line.strip() for line in lines if line.strip().startswith("also: ")]
    expected = [f"also: {r['detail']}" for link in chain for r in link["reasons"][1:]]
    assert also == expected
    assert len(lines) == len(chain) + len(expected)


def test_plan_sums_up_per_asset_and_all_lists_every_step(stale_project: Path) -> None:
    document = cli_json(["plan"], stale_project)
    steps = document["steps"]
    assert document["count"] == len(steps) == DAY_COUNT + 2 + 1
    assert set(steps[0]) >= {"asset", "partition", "reasons", "depends_on"}

    text = cli(["plan"], stale_project)
    lines = text.splitlines()
    assert lines[0] == f"{len(steps)} step(s) in 3 asset(s):"
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert re.fullmatch(
        rf"  cleaned +{DAY_COUNT} step\(s\) +2024-01-01 … 2024-02-29 +{DAY_COUNT} code_changed",
        rows["cleaned"],
    ), text
    assert re.fullmatch(
        r"  monthly +2 step\(s\) +2024-01 … 2024-02 +2 upstream_stale", rows["monthly"]
    ), text
    assert re.fullmatch(
        r"  report +1 step\(s\) +- +stale: upstream monthly\[2024-01\] is stale \(\+61 more\)",
        rows["report"],
    ), text
    assert lines[4] == "(`plan --all` lists every step)"
    assert len([line for line in lines if line.startswith("  ")]) == 3

    every = cli(["plan", "--all"], stale_project).splitlines()
    assert every[0] == f"{len(steps)} step(s):"
    listed = [line.split(":")[0].strip() for line in every[1 : 1 + len(steps)]]
    assert listed == [
        s["asset"] if s["partition"] == "-" else f"{s['asset']}[{s['partition']}]" for s in steps
    ]


def test_a_plan_of_single_steps_names_each_step(stale_project: Path) -> None:
    lines = cli(["plan", "cleaned", "--partition", "2024-01-05"], stale_project).splitlines()
    assert lines[0] == "1 step(s) in 1 asset(s):"
    assert re.fullmatch(
        r"  cleaned +1 step\(s\) +2024-01-05 +stale: code of cleaned changed \(1 → 2\)", lines[1]
    ), lines
