"""Checks at work (SPEC 2b): inside steps (write, audit, publish) and on stored data.

Projects on real files; the command line as a real subprocess. A blocking check that fails
fails its step with ``check_failed: NAME``, keeps the partition's previous data untouched and
skips downstream; a non-blocking failure publishes the data with a warning that ``status``,
``why`` and ``logs`` show; ``check`` runs the same checks on stored data.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from helpers import ProjectFactory, run_cli

from assetflow import Project

TOML = """\
[project]
name = "checks"
modules = ["pipeline"]

[assets.orders]
checks = [
    "not_null(order_id)",
    "unique(order_id)",
    "accepted_values(status, ['open', 'paid'])",
    "row_count(min=1, max=5)",
]
"""

# The rows come from rows.json, so that a test changes the data between runs.
PIPELINE = """\
import json
import pathlib

import pyarrow as pa

from assetflow import CheckResult, DailyPartitions, asset, check

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-03")


def rows():
    return json.loads(pathlib.Path("rows.json").read_text())


@asset(io="duckdb", partitions=DAYS)
def orders(context):
    data = rows()
    return pa.table({"order_id": [r[0] for r in data], "status": [r[1] for r in data]})


@check(asset="orders", blocking=True)
def orders_have_ids(orders):
    nulls = orders.filter("order_id is null").count("*").fetchone()[0]
    return CheckResult(passed=nulls == 0, metadata={"null_ids": nulls})


@check(asset="orders")
def never_raises(orders):
    raise ValueError("this check is broken")


@asset(io="duckdb", partitions=DAYS)
def shipped(orders):
    return orders
"""

GOOD = [[1, "open"], [2, "paid"], [3, "open"]]


def project_with(make_project: ProjectFactory, rows: list[list[object]]) -> Path:
    root = make_project(TOML, pipeline=PIPELINE)
    set_rows(root, rows)
    return root


def set_rows(root: Path, rows: list[list[object]]) -> None:
    (root / "rows.json").write_text(json.dumps(rows))


def stored(root: Path, day: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select order_id, status from orders where _partition = ? order by order_id", [day]
        ).fetchall()


def results(root: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True) as con:
        return con.execute(
            "select partition, check_name, blocking, passed, error is not null from check_results"
            " order by checked_at, check_name"
        ).fetchall()


def cli_json(args: list[str], root: Path, expect: int = 0) -> dict[str, object]:
    code, out, err = run_cli([*args, "--json"], root)
    assert code == expect, err
    return json.loads(out)


def test_blocking_check_failure_keeps_old_data_and_skips_downstream(
    make_project: ProjectFactory,
) -> None:
    root = project_with(make_project, GOOD)
    day = "2024-01-01"
    assert cli_json(["materialize", "*", "--partition", day], root)["status"] == "success"
    assert stored(root, day) == [(1, "open"), (2, "paid"), (3, "open")]

    set_rows(root, [[None, "open"], [7, "paid"]])
    document = cli_json(["materialize", "*", "--partition", day, "--force"], root, expect=1)
    steps = {s["asset"]: s for s in document["steps"]}  # type: ignore[union-attr, index]
    assert steps["orders"]["status"] == "failed"
    assert steps["orders"]["error"] == "check_failed: orders_have_ids (null_ids=1)"
    assert steps["orders"]["attempts"] == 1, "a failed check is not retried"
    assert steps["shipped"]["status"] == "skipped"
    assert steps["shipped"]["reason"] == f"upstream failed: orders[{day}]"
    # The audit happened before the publish: the old rows are untouched.
    assert stored(root, day) == [(1, "open"), (2, "paid"), (3, "open")]
    failed_attempt = [r for r in results(root) if r[1] == "orders_have_ids"][-1]
    assert failed_attempt == (day, "orders_have_ids", True, False, False)


def test_non_blocking_failures_publish_with_a_warning(make_project: ProjectFactory) -> None:
    root = project_with(make_project, [[1, "open"], [1, "lost"], [None, "paid"]])
    # orders_have_ids is blocking: keep ids present, break only the non-blocking rules.
    set_rows(root, [[1, "open"], [1, "lost"]])
    day = "2024-01-02"
    assert cli_json(["materialize", "orders", "--partition", day], root)["status"] == "success"
    assert sorted(stored(root, day)) == [(1, "lost"), (1, "open")]
    by_name = {name: (passed, error) for _, name, _, passed, error in results(root)}
    assert by_name == {
        "orders_have_ids": (True, False),
        "not_null_order_id": (True, False),
        "unique_order_id": (False, False),
        "accepted_values_status": (False, False),
        "row_count": (True, False),
        "never_raises": (False, True),
    }
    listing = cli_json(["checks", "orders"], root)["checks"]
    failing = {c["check"]: c["failing_partitions"] for c in listing}  # type: ignore[union-attr]
    assert failing["unique_order_id"] == [day] and failing["row_count"] == []
    accepted = next(c for c in listing if c["check"] == "accepted_values_status")  # type: ignore[union-attr]
    assert accepted["latest"]["metadata"] == {"unexpected_count": 1, "unexpected_values": ["lost"]}
    assert accepted["kind"] == "builtin" and not accepted["blocking"]

    counts = {r["asset"]: r for r in cli_json(["status"], root)["assets"]}  # type: ignore[union-attr]
    assert counts["orders"]["check_warnings"] == 1 and counts["shipped"]["check_warnings"] == 0
    why = cli_json(["why", "orders", day], root)
    assert {w["check"] for w in why["check_warnings"]} == {  # type: ignore[union-attr]
        "unique_order_id",
        "accepted_values_status",
        "never_raises",
    }
    code, out, _ = run_cli(["status"], root)
    assert code == 0 and "warning: 1 partition(s) of orders fail checks" in out
    code, out, _ = run_cli(["logs", "orders", day], root)
    assert "check accepted_values_status failed: unexpected_count=1" in out
    assert "ValueError: this check is broken" in out


def test_check_command_runs_on_stored_data(make_project: ProjectFactory) -> None:
    root = project_with(make_project, GOOD)
    assert cli_json(["materialize", "orders"], root)["status"] == "success"
    document = cli_json(
        ["check", "orders", "--from", "2024-01-01", "--to", "2024-01-02"], root, expect=1
    )
    found = document["results"]
    assert len(found) == 2 * 6  # type: ignore[arg-type]
    assert {r["check"] for r in found if not r["passed"]} == {"never_raises"}  # type: ignore[union-attr]
    # The recorded results belong to the success that wrote the data.
    with duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select count(*) from check_results c join partition_status s"
            " on s.asset = c.asset and s.partition = c.partition"
            " and s.last_success_id = c.materialization_id where c.run_id is null"
        ).fetchone()
    assert rows == (12,)
    code, out, _ = run_cli(["check", "orders", "--partition", "2024-01-02"], root)
    assert code == 1 and "FAILED  orders[2024-01-02]  never_raises" in out


def test_checks_in_process_on_an_sql_asset(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    """A SQL asset returns a relation: the checks and the store see the same rows."""
    toml = """\
    [project]
    name = "sql"
    modules = ["pipeline"]

    [assets.numbers]
    sql = "select range as n, random() as r from range(4)"
    checks = ["row_count(min=4, max=4)", "unique(r)"]
    """
    pipeline = """\
    from assetflow import check

    @check(asset="numbers", blocking=True)
    def small(numbers):
        return numbers.filter("n >= 4").count("*").fetchall()[0][0] == 0
    """
    root = make_project(toml, pipeline=pipeline)
    project = Project.load(root)
    result = project.materialize()
    assert result.status.value == "success"
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from numbers").fetchone() == (4,)
    assert {(r.check_name, r.passed) for r in project.check_warnings()} == set()
    listing = {c["check"]: c["latest"]["passed"] for c in project.checks()}
    assert listing == {"small": True, "row_count": True, "unique_r": True}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("between(1, 2)", "is not a known check"),
        ("unique()", "expected unique(column)"),
    ],
)
def test_bad_check_expressions_fail_at_load(
    make_project: ProjectFactory, rule: str, message: str
) -> None:
    toml = TOML.replace('"row_count(min=1, max=5)",', f'"{rule}",')
    root = make_project(toml, pipeline=PIPELINE)
    code, _, err = run_cli(["checks"], root)
    assert code == 2 and message in err and "assets.orders.checks" in err
