"""The run and history commands through the real command line: their JSON documents (SPEC 7),
backfills (list, show, resume, --missing-only, --stale-only) and ``history prune``.

Every test uses a small project in ``tmp_path``: ``raw`` (daily, 10 days, its values from
``settings.json``), ``orders`` (daily, from ``raw``; the days listed in ``settings.json`` fail)
and ``report`` (unpartitioned, from every day of ``orders``). Changing ``settings.json`` changes
data or fixes failures without changing any code version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import ProjectFactory, run_cli

from assetflow import Project

PIPELINE = """\
import json
import pathlib

from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-11")
HERE = pathlib.Path(__file__).resolve().parent


def settings():
    return json.loads((HERE / "settings.json").read_text())


@asset(partitions=DAYS)
def raw(context):
    value = settings()["values"].get(context.partition_key, 1)
    return context.warehouse.sql(
        "select $day::date as day, $v::int as v",
        params={"day": context.partition_key, "v": value},
    )


@asset(partitions=DAYS)
def orders(context, raw):
    context.log.info("orders for %s", context.partition_key)
    if context.partition_key in settings()["fail"]:
        raise RuntimeError(f"orders failed for {context.partition_key}")
    return raw.select("day, v * 10 as amount")


@asset
def report(orders):
    return orders.aggregate("count(*) as days, sum(amount) as amount")
"""

DAYS = [f"2024-01-{day:02d}" for day in range(1, 11)]
STATUSES = {"fresh", "stale", "missing", "failed", "running", "waiting"}
STEP_FIELDS = {"asset", "partition", "status", "attempts", "duration_s", "error", "reason"}


@pytest.fixture
def project(make_project: ProjectFactory, clean_imports: None) -> Path:
    """The project, with nothing failing and every value 1. Tests also call its Python API
    in-process (``api``) where only the setup or a cross-check needs it, to save subprocesses."""
    folder = make_project(pipeline=PIPELINE)
    configure(folder, values={}, fail=[])
    return folder


def api(project: Path) -> Project:
    return Project.load(project)


def configure(project: Path, *, values: dict[str, int], fail: list[str]) -> None:
    (project / "settings.json").write_text(json.dumps({"values": values, "fail": fail}))


def cli(args: list[str], cwd: Path, expect: int = 0) -> str:
    code, out, err = run_cli(args, cwd)
    assert code == expect, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return out


def cli_json(args: list[str], cwd: Path, expect: int = 0) -> Any:
    out = cli([*args, "--json"], cwd, expect)
    return json.loads(out)  # exactly one JSON document on stdout


def name(record: dict[str, Any]) -> str:
    return f"{record['asset']}[{record['partition']}]"


def names(document: dict[str, Any]) -> list[str]:
    return [name(step) for step in document["steps"]]


def iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def check_run_document(document: dict[str, Any], status: str) -> None:
    """``materialize --json`` / ``backfill --json``: run_id, status, steps with every field."""
    assert {"run_id", "status", "steps"} <= set(document)
    assert isinstance(document["run_id"], str) and document["run_id"]
    assert document["status"] == status
    for step in document["steps"]:
        assert set(step) >= STEP_FIELDS, step
        assert step["status"] in {"success", "failed", "skipped"}
        assert isinstance(step["attempts"], int)
        assert isinstance(step["duration_s"], int | float) and step["duration_s"] >= 0
        if step["status"] == "success":
            assert step["error"] is None and step["reason"] is None and step["attempts"] >= 1


# -- the JSON documents of SPEC 7 --------------------------------------------------------------


def test_status_json_documents(project: Path) -> None:
    api(project).materialize("orders", first="2024-01-01", last="2024-01-04")
    counts = cli_json(["status"], project)
    assert [a["asset"] for a in counts["assets"]] == ["raw", "orders", "report"]
    by_asset = {a["asset"]: a["counts"] for a in counts["assets"]}
    assert by_asset["raw"] == {**dict.fromkeys(STATUSES, 0), "fresh": 4, "missing": 6}
    assert by_asset["orders"] == {**dict.fromkeys(STATUSES, 0), "fresh": 4, "missing": 6}
    assert by_asset["report"] == {**dict.fromkeys(STATUSES, 0), "missing": 1}

    document = cli_json(["status", "orders", "raw", "--partitions"], project)
    records = {name(r): r for r in document["partitions"]}
    assert set(records) == {f"{a}[{d}]" for a in ("raw", "orders") for d in DAYS}
    for record in records.values():
        assert set(record) >= {
            "asset",
            "partition",
            "status",
            "reasons",
            "last_materialized_at",
            "data_version",
            "code_version",
        }
        for reason in record["reasons"]:
            assert set(reason) == {"kind", "detail"}
    fresh = records["orders[2024-01-02]"]
    assert fresh["status"] == "fresh" and fresh["reasons"] == []
    (summary,) = api(project).runs()
    assert summary.run.started_at <= iso(fresh["last_materialized_at"]) <= summary.run.ended_at
    assert fresh["data_version"] and fresh["code_version"]
    assert fresh["code_version"] == api(project).asset("orders").code_version
    missing = records["orders[2024-01-07]"]
    assert missing["status"] == "missing"
    assert [r["kind"] for r in missing["reasons"]] == ["missing"]
    assert missing["last_materialized_at"] is None and missing["data_version"] is None

    # One partition narrows the document to that partition.
    one = cli_json(["status", "orders", "--partition", "2024-01-02", "--partitions"], project)
    assert one["partitions"] == [fresh]


def test_plan_json_steps_come_after_what_they_depend_on(project: Path) -> None:
    plan = cli_json(["plan", "report"], project)
    steps = plan["steps"]
    expected = {f"{a}[{d}]" for a in ("raw", "orders") for d in DAYS} | {"report[-]"}
    assert set(names(plan)) == expected and len(steps) == len(expected)
    seen: set[str] = set()
    for step in steps:
        assert set(step) >= {"asset", "partition", "reasons", "depends_on"}
        assert all(set(r) == {"kind", "detail"} for r in step["reasons"])
        assert [r["kind"] for r in step["reasons"]] == ["missing"]
        for dependency in step["depends_on"]:
            assert dependency in seen, f"{name(step)} runs before {dependency}"
        seen.add(name(step))
    by_name = {name(s): s for s in steps}
    assert by_name["orders[2024-01-05]"]["depends_on"] == ["raw[2024-01-05]"]
    assert by_name["raw[2024-01-05]"]["depends_on"] == []
    assert set(by_name["report[-]"]["depends_on"]) == {f"orders[{d}]" for d in DAYS}
    # Among independent steps, older partitions first.
    assert [n for n in names(plan) if n.startswith("raw[")] == [f"raw[{d}]" for d in DAYS]
    assert api(project).runs() == [], "planning runs nothing"


def test_materialize_runs_and_lineage_json(project: Path) -> None:
    first = api(project).materialize("orders", partition="2024-01-02")
    assert first.status.value == "success"

    configure(project, values={}, fail=["2024-01-05"])
    second = cli_json(["materialize", "report"], project, expect=1)
    check_run_document(second, "failed")
    steps = {name(s): s for s in second["steps"]}
    assert steps["orders[2024-01-05]"]["status"] == "failed"
    assert steps["orders[2024-01-05]"]["attempts"] == 1
    assert steps["orders[2024-01-05]"]["error"] == "RuntimeError: orders failed for 2024-01-05"
    assert steps["report[-]"]["status"] == "skipped"
    assert steps["report[-]"]["reason"] == "upstream failed: orders[2024-01-05]"
    # raw[2024-01-02] and orders[2024-01-02] were fresh: not in the plan.
    expected = {f"{a}[{d}]" for a in ("raw", "orders") for d in DAYS if d != "2024-01-02"}
    assert set(steps) == expected | {"report[-]"}
    position = {n: i for i, n in enumerate(names(second))}
    for day in DAYS:
        if day != "2024-01-02":
            assert position[f"raw[{day}]"] < position[f"orders[{day}]"] < position["report[-]"]

    configure(project, values={}, fail=[])
    third = cli_json(["materialize", "report"], project)
    check_run_document(third, "success")
    assert names(third) == ["orders[2024-01-05]", "report[-]"]

    runs = cli_json(["runs"], project)["runs"]
    assert [r["run_id"] for r in runs] == [third["run_id"], second["run_id"], first.run_id]
    for record in runs:
        assert set(record) >= {"run_id", "kind", "status", "started_at", "ended_at", "counts"}
        assert record["kind"] == "materialize"
        assert iso(record["started_at"]) <= iso(record["ended_at"])
    started = [iso(r["started_at"]) for r in runs]
    assert started == sorted(started, reverse=True)
    assert [r["status"] for r in runs] == ["success", "failed", "success"]
    assert [r["counts"] for r in runs] == [
        {"success": 2},
        {"success": 17, "failed": 1, "skipped": 1},
        {"success": 2},
    ]
    failed_only = api(project).runs(status="failed")
    assert [summary.run.run_id for summary in failed_only] == [second["run_id"]]

    lineage = cli_json(["lineage", "orders", "2024-01-02"], project)
    nodes = {name(n): n for n in lineage["nodes"]}
    assert set(nodes) == {"raw[2024-01-02]", "orders[2024-01-02]", "report[-]"}
    for record in lineage["nodes"]:
        assert set(record) >= {"asset", "partition", "materialization_id", "data_version"}
    ids = {n: record["materialization_id"] for n, record in nodes.items()}
    assert all(set(e) >= {"from", "to"} for e in lineage["edges"])
    assert {(e["from"], e["to"]) for e in lineage["edges"]} == {
        (ids["raw[2024-01-02]"], ids["orders[2024-01-02]"]),
        (ids["orders[2024-01-02]"], ids["report[-]"]),
    }
    for result in api(project).status(["raw", "orders", "report"], partition="2024-01-02"):
        assert nodes[f"{result.asset}[{result.partition}]"]["data_version"] == result.data_version


# -- backfills ---------------------------------------------------------------------------------


def test_backfill_runs_the_range_in_order_and_again_when_repeated(project: Path) -> None:
    api(project).materialize("raw")
    range_ = ["--from", "2024-01-01", "--to", "2024-01-10"]
    first = cli_json(["backfill", "orders", *range_], project)
    check_run_document(first, "success")
    assert names(first) == [f"orders[{d}]" for d in DAYS]
    assert first["backfill_id"]
    # The same backfill again: every partition again (they are all fresh now).
    second = cli_json(["backfill", "orders", *range_], project)
    check_run_document(second, "success")
    assert names(second) == [f"orders[{d}]" for d in DAYS]
    assert second["backfill_id"] != first["backfill_id"]

    listing = cli(["backfill", "list"], project)
    assert first["backfill_id"] in listing and second["backfill_id"] in listing
    assert listing.index(second["backfill_id"]) < listing.index(first["backfill_id"])
    shown = cli_json(["backfill", "show", first["backfill_id"]], project)
    assert shown["backfill_id"] == first["backfill_id"]
    assert (shown["from"], shown["to"]) == ("2024-01-01", "2024-01-10")
    assert (shown["status"], shown["total"], shown["done"]) == ("success", 10, 10)
    assert shown["run_ids"] == [first["run_id"]]
    kinds = {summary.run.run_id: summary.run.kind for summary in api(project).runs()}
    assert kinds[first["run_id"]] == kinds[second["run_id"]] == "backfill"


def test_backfill_missing_only_and_stale_only(project: Path) -> None:
    api(project).materialize("raw")
    api(project).materialize("orders", first="2024-01-01", last="2024-01-06")
    # New data for two days: rematerialize every raw partition, only those two change.
    configure(project, values={"2024-01-02": 7, "2024-01-05": 9}, fail=[])
    api(project).materialize("raw", force=True)
    before = {f"orders[{r.partition}]": r.status.value for r in api(project).status("orders")}
    assert before == {
        **{f"orders[{d}]": "fresh" for d in DAYS[:6]},
        "orders[2024-01-02]": "stale",
        "orders[2024-01-05]": "stale",
        **{f"orders[{d}]": "missing" for d in DAYS[6:]},
    }
    range_ = ["--from", "2024-01-01", "--to", "2024-01-10"]
    missing = cli_json(["backfill", "orders", *range_, "--missing-only"], project)
    check_run_document(missing, "success")
    assert names(missing) == [f"orders[{d}]" for d in DAYS[6:]]
    stale = cli_json(["backfill", "orders", *range_, "--stale-only"], project)
    check_run_document(stale, "success")
    assert names(stale) == ["orders[2024-01-02]", "orders[2024-01-05]"]
    assert {r.status.value for r in api(project).status("orders")} == {"fresh"}


def test_backfill_resume_runs_only_what_did_not_succeed(project: Path) -> None:
    configure(project, values={}, fail=["2024-01-04", "2024-01-08"])
    range_ = ["--from", "2024-01-03", "--to", "2024-01-09"]
    first = cli_json(["backfill", "raw", "orders", *range_], project, expect=1)
    check_run_document(first, "failed")
    backfill_id = first["backfill_id"]
    failed = [name(s) for s in first["steps"] if s["status"] == "failed"]
    assert failed == ["orders[2024-01-04]", "orders[2024-01-08]"]
    assert len(first["steps"]) == 14
    record = api(project).backfill_record(backfill_id)
    assert (record.status.value, record.done, record.total) == ("failed", 12, 14)

    configure(project, values={}, fail=[])  # fixed
    resumed = cli_json(["backfill", "resume", backfill_id], project)
    check_run_document(resumed, "success")
    assert names(resumed) == ["orders[2024-01-04]", "orders[2024-01-08]"]
    shown = cli_json(["backfill", "show", backfill_id], project)
    assert (shown["status"], shown["done"], shown["total"]) == ("success", 14, 14)
    assert shown["run_ids"] == [first["run_id"], resumed["run_id"]]
    statuses = api(project).status(["raw", "orders"], first="2024-01-03", last="2024-01-09")
    assert len(statuses) == 14 and {r.status.value for r in statuses} == {"fresh"}


@pytest.mark.parametrize(
    "args",
    [
        ["backfill", "orders", "--from", "2024-01-10", "--to", "2024-01-01"],
        ["backfill", "orders", "--from", "2024-01-10"],
        ["backfill", "orders", "--from", "2024-01-01", "--to", "2024-01-10", "--missing-only",
         "--stale-only"],
        ["backfill", "resume", "bf-nope"],
    ],
)  # fmt: skip
def test_bad_backfill_and_run_arguments_exit_2(project: Path, args: list[str]) -> None:
    code, out, err = run_cli(args, project)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert err.strip(), "one clear message on stderr"
    assert api(project).runs() == [], "nothing ran"


# -- history prune -----------------------------------------------------------------------------


def test_history_prune_keeps_every_status(project: Path) -> None:
    shop = api(project)
    shop.materialize("report")
    shop.materialize("raw", force=True)  # same data: nothing becomes stale
    configure(project, values={"2024-01-03": 5}, fail=["2024-01-06"])
    shop.materialize("raw", partition="2024-01-03", force=True)
    assert shop.materialize("orders", partition="2024-01-06", force=True).status.value == "failed"
    shop.materialize("raw", first="2024-01-09", last="2024-01-10", force=True)

    before = [r.to_json() for r in shop.status()]
    by_name = {name(r): r for r in before}
    assert by_name["orders[2024-01-03]"]["status"] == "stale"
    assert by_name["orders[2024-01-06]"]["status"] == "failed"
    assert by_name["report[-]"]["status"] == "stale"
    assert {r["status"] for r in before} == {"fresh", "stale", "failed"}
    counts_before = cli_json(["status"], project)
    why_before = shop.why("report")

    pruned = cli_json(["history", "prune", "--before", "2999-01-01", "--yes"], project)
    assert pruned["deleted"]["materializations"] > 0, pruned
    assert shop.prune(datetime(2000, 1, 1, tzinfo=UTC)) == dict.fromkeys(pruned["deleted"], 0)

    assert cli_json(["status"], project) == counts_before
    assert [r.to_json() for r in shop.status()] == before
    assert shop.why("report") == why_before
