"""``assetflow verify [SELECTION]`` (issue 13, item 9; SPEC 7, 11).

Stored partitions are fingerprinted again: data changed outside assetflow becomes ``stale`` with
``data_changed``, data gone ``stale`` with ``data_missing``, and ``materialize`` makes them again.
Generated tampering (rows changed, deleted, duplicated, reordered; files rewritten or removed)
is told apart exactly: only a different multiset of rows is a change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import run_cli, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.application.project import Project
from assetflow.application.verifying import verify

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, Output, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")

@asset(partitions=DAYS)
def orders(context):
    day = context.partition_key
    return pa.table({"day": [day] * 3, "amount": [1, 2, 3]})

@asset(partitions=DAYS, io="parquet")
def totals(orders):
    return orders.aggregate("sum(amount) AS total, count(*) AS n")

@asset
def versioned():
    return Output(pa.table({"x": [1]}), data_version="v1")
"""

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("verify") / "project", pipeline=PIPELINE)
    code, _, err = run_cli(["materialize", "*"], root)
    assert code == 0, err
    return root


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "project"))


def _sql(root: Path, *statements: str) -> None:
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        for statement in statements:
            con.execute(statement)


def _verify(root: Path, *selection: str) -> dict[str, str]:
    """``verify`` through the Python API (the CLI's --json document goes to descriptor 1)."""
    results = verify(Project.load(root).workspace, list(selection) or None, None)
    return {
        r.asset if r.partition == "-" else f"{r.asset}[{r.partition}]": r.result for r in results
    }


def _not_fresh(root: Path) -> dict[str, list[str]]:
    code, out, err = run_cli(["status", "--json", "--partitions"], root)
    assert code == 0, err
    return {
        f"{p['asset']}[{p['partition']}]": [r["kind"] for r in p["reasons"]]
        for p in json.loads(out)["partitions"]
        if p["status"] != "fresh"
    }


def test_untouched_data_verifies_and_stays_fresh(project: Path) -> None:
    code, out, err = run_cli(["verify"], project)
    assert code == 0, err
    assert out.strip() == (
        "verified 9 stored partition(s): 8 as recorded, 0 changed outside assetflow, 0 gone, "
        "1 with their own data version (not checked)"
    )
    assert _not_fresh(project) == {}


def test_changed_and_gone_data_become_stale_and_are_made_again(
    project: Path, clean_imports: None
) -> None:
    _sql(project, "UPDATE orders SET amount = 10 WHERE _partition = '2024-01-02'")
    (project / "data" / "totals" / "2024-01-04.parquet").unlink()
    code, out, err = run_cli(["verify"], project)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("changed  orders[2024-01-02]  its stored data changed outside")
    assert lines[1].startswith("missing  totals[2024-01-04]  its stored data is gone")
    assert "1 changed outside assetflow, 1 gone" in lines[-1]
    assert _not_fresh(project) == {
        "orders[2024-01-02]": ["data_changed"],
        "totals[2024-01-02]": ["upstream_stale"],
        "totals[2024-01-04]": ["data_missing"],
    }
    code, out, err = run_cli(["materialize", "*"], project)
    assert code == 0, err
    assert _not_fresh(project) == {}
    assert set(_verify(project).values()) == {"ok", "unverifiable"}


def test_data_put_back_as_it_was_is_fresh_again(project: Path, clean_imports: None) -> None:
    _sql(project, "UPDATE orders SET amount = amount + 100 WHERE _partition = '2024-01-03'")
    assert _verify(project, "orders")["orders[2024-01-03]"] == "changed"
    assert "orders[2024-01-03]" in _not_fresh(project)
    _sql(project, "UPDATE orders SET amount = amount - 100 WHERE _partition = '2024-01-03'")
    assert _verify(project, "orders")["orders[2024-01-03]"] == "ok"
    assert _not_fresh(project) == {}


def test_the_selection_limits_what_is_read(project: Path, clean_imports: None) -> None:
    assert set(_verify(project, "totals")) == {f"totals[{day}]" for day in DAYS}


TAMPER = st.sampled_from(["none", "change", "delete", "duplicate", "reorder"])


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.fixed_dictionaries({day: TAMPER for day in DAYS}),
    files=st.fixed_dictionaries(
        {day: st.sampled_from(["none", "rewrite", "remove"]) for day in DAYS}
    ),
)
def test_verify_tells_exactly_what_changed(
    pristine: Path,
    tmp_path_factory: pytest.TempPathFactory,
    clean_imports: None,
    rows: dict[str, str],
    files: dict[str, str],
) -> None:
    root = Path(shutil.copytree(pristine, tmp_path_factory.mktemp("case") / "project"))
    statements = []
    for day, how in rows.items():
        key = f"_partition = '{day}'"
        if how == "change":
            statements.append(f"UPDATE orders SET amount = amount * 7 WHERE {key}")
        elif how == "delete":
            statements.append(f"DELETE FROM orders WHERE {key}")
        elif how == "duplicate":
            statements.append(f"INSERT INTO orders SELECT * FROM orders WHERE {key} LIMIT 1")
        elif how == "reorder":  # the same rows in another order: not a change
            statements += [
                f"CREATE TEMP TABLE keep AS SELECT * FROM orders WHERE {key} ORDER BY amount DESC",
                f"DELETE FROM orders WHERE {key}",
                "INSERT INTO orders SELECT * FROM keep",
                "DROP TABLE keep",
            ]
    _sql(root, *statements)
    for day, how in files.items():
        path = root / "data" / "totals" / f"{day}.parquet"
        if how == "remove":
            path.unlink()
        elif how == "rewrite":
            with duckdb.connect() as con:
                con.execute(f"COPY (SELECT 99::HUGEINT AS total, 3::BIGINT AS n) TO '{path}'")
    found = _verify(root)
    expected_rows = {"none": "ok", "reorder": "ok", "change": "changed", "delete": "missing"}
    expected_rows["duplicate"] = "changed"
    expected_files = {"none": "ok", "rewrite": "changed", "remove": "missing"}
    assert found == {
        **{f"orders[{day}]": expected_rows[how] for day, how in rows.items()},
        **{f"totals[{day}]": expected_files[how] for day, how in files.items()},
        "versioned": "unverifiable",
    }
