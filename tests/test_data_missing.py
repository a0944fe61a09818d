"""Stored data that is gone is noticed (issue 13, item 9; SPEC 4 ``data_missing``).

The warehouse deleted, replaced or unreadable, a table's rows for a partition deleted, a Parquet
file removed: ``status`` shows exactly those partitions ``stale`` with reason ``data_missing``
(their readers ``upstream_stale``), and ``materialize`` makes them again. Partitions that stored
nothing (``None``) or no rows are not missing anything. A warehouse another process holds open
is not looked into (status still answers).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import run_cli, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.application.project import Project

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-07")

@asset(partitions=DAYS)
def orders(context):
    return pa.table({"day": [context.partition_key] * 2, "amount": [1, 2]})

@asset(partitions=DAYS, io="parquet")
def totals(orders):
    return orders.aggregate("sum(amount) AS total")

@asset
def nothing():
    return None

@asset
def empty():
    return pa.table({"x": pa.array([], pa.int64())})
"""

DAYS = [f"2024-01-0{day}" for day in range(1, 7)]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("made") / "project", pipeline=PIPELINE)
    code, _, err = run_cli(["materialize", "*"], root)
    assert code == 0, err
    return root


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the materialized project to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "project"))


def _statuses(root: Path) -> dict[str, tuple[str, list[str]]]:
    code, out, err = run_cli(["status", "--json", "--partitions"], root)
    assert code == 0 and "Traceback" not in err, err
    return {
        f"{p['asset']}[{p['partition']}]": (p["status"], [r["kind"] for r in p["reasons"]])
        for p in json.loads(out)["partitions"]
    }


def _not_fresh(found: dict[str, tuple[str, list[str]]]) -> dict[str, tuple[str, list[str]]]:
    return {name: value for name, value in found.items() if value[0] != "fresh"}


def _execute(root: Path, sql: str) -> None:
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute(sql)


def test_a_deleted_warehouse_is_data_missing_and_made_again(project: Path) -> None:
    (project / "warehouse.duckdb").unlink()
    found = _not_fresh(_statuses(project))
    assert found == {
        **{f"orders[{day}]": ("stale", ["data_missing"]) for day in DAYS},
        **{f"totals[{day}]": ("stale", ["upstream_stale"]) for day in DAYS},
    }
    code, out, err = run_cli(["why", "orders", "2024-01-02"], project)
    assert "stored data is gone" in out and "warehouse.duckdb does not exist" in out, out
    code, out, err = run_cli(["materialize", "*"], project)
    assert code == 0, err
    assert _not_fresh(_statuses(project)) == {}
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM orders").fetchall() == [(12,)]


def test_deleted_rows_and_a_removed_file_are_exactly_what_is_missing(project: Path) -> None:
    _execute(project, "DELETE FROM orders WHERE _partition = '2024-01-03'")
    (project / "data" / "totals" / "2024-01-05.parquet").unlink()
    assert _not_fresh(_statuses(project)) == {
        "orders[2024-01-03]": ("stale", ["data_missing"]),
        "totals[2024-01-03]": ("stale", ["upstream_stale"]),
        "totals[2024-01-05]": ("stale", ["data_missing"]),
    }
    code, out, err = run_cli(["materialize", "*"], project)
    assert code == 0, err
    # orders[2024-01-03] comes back with the same rows: totals[2024-01-03], which only read
    # it, is cut off (its data is there); totals[2024-01-05] is made again.
    assert out.splitlines()[-1].endswith(": 1 skipped (unchanged inputs), 2 success")
    assert _not_fresh(_statuses(project)) == {}


def test_a_replaced_warehouse_and_a_dropped_table(project: Path) -> None:
    (project / "warehouse.duckdb").unlink()
    _execute(project, "CREATE TABLE other AS SELECT 1 AS x")  # a new, unrelated file
    assert {(status, tuple(k)) for status, k in _not_fresh(_statuses(project)).values()} == {
        ("stale", ("data_missing",)),
        ("stale", ("upstream_stale",)),
    }
    code, _, err = run_cli(["materialize", "*"], project)
    assert code == 0, err
    _execute(project, "DROP TABLE orders")
    found = _not_fresh(_statuses(project))
    assert {name for name, value in found.items() if value[1] == ["data_missing"]} == {
        f"orders[{day}]" for day in DAYS
    }


def test_an_unreadable_warehouse_is_data_missing_without_a_traceback(project: Path) -> None:
    (project / "warehouse.duckdb").write_bytes(b"not a database" * 1000)
    found = _not_fresh(_statuses(project))
    assert found[f"orders[{DAYS[0]}]"] == ("stale", ["data_missing"])
    code, out, _ = run_cli(["why", "orders", DAYS[0]], project)
    assert code == 0
    assert "cannot be read" in out and "warehouse.duckdb" in out


HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held(project: Path) -> Iterator[Path]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project / "warehouse.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield project
    finally:
        holder.kill()
        holder.wait()


def test_a_warehouse_held_by_a_run_is_not_looked_into(held: Path) -> None:
    """A run holds the warehouse for its whole length: status must still answer at once."""
    assert _not_fresh(_statuses(held)) == {}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows_gone=st.sets(st.sampled_from(DAYS)),
    files_gone=st.sets(st.sampled_from(DAYS)),
)
def test_status_names_exactly_the_partitions_whose_data_is_gone(
    pristine: Path,
    tmp_path_factory: pytest.TempPathFactory,
    clean_imports: None,
    rows_gone: set[str],
    files_gone: set[str],
) -> None:
    root = Path(shutil.copytree(pristine, tmp_path_factory.mktemp("case") / "project"))
    if rows_gone:
        listed = ", ".join(f"'{day}'" for day in sorted(rows_gone))
        _execute(root, f"DELETE FROM orders WHERE _partition IN ({listed})")
    for day in files_gone:
        (root / "data" / "totals" / f"{day}.parquet").unlink()
    results = Project.load(root).status()
    kinds = {r.node: [reason.kind.value for reason in r.reasons] for r in results}
    expected: dict[tuple[str, str], list[str]] = {}
    for day in DAYS:
        if day in rows_gone:
            expected[("orders", day)] = ["data_missing"]
        totals: list[str] = []
        if day in files_gone:
            totals.append("data_missing")
        if day in rows_gone:
            totals.append("upstream_stale")
        if totals:
            expected[("totals", day)] = totals
    assert {node: k for node, k in kinds.items() if k} == expected


def test_the_arrow_path_and_the_rows_path_find_the_same(
    project: Path, clean_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to ROWS_WITHOUT_ARROW recorded partitions come to the look as plain rows (no pyarrow
    for a small project's status); past it, as an Arrow table. Both find the same."""
    from assetflow.store import verifications

    _execute(project, "DELETE FROM orders WHERE _partition = '2024-01-03'")
    (project / "data" / "totals" / "2024-01-05.parquet").unlink()

    def found() -> dict[tuple[str, str], list[str]]:
        results = Project.load(project).status()
        return {r.node: [reason.kind.value for reason in r.reasons] for r in results if r.reasons}

    by_rows = found()
    monkeypatch.setattr(verifications, "ROWS_WITHOUT_ARROW", 0)
    assert (
        found()
        == by_rows
        == {
            ("orders", "2024-01-03"): ["data_missing"],
            ("totals", "2024-01-03"): ["upstream_stale"],
            ("totals", "2024-01-05"): ["data_missing"],
        }
    )
