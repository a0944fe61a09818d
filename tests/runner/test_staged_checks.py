"""Checks and fingerprint over the staged rows agree with the one-query-per-check path.

A step of a DuckDB asset reads its value once into a TEMP table; every built-in check's figure
and the fingerprint come from one aggregate query there (``audit_staged``). ``assetflow
check`` and other IO kinds still run each check with its own queries (``evaluate_checks``).
For any rows and any list of checks (including ones that cannot run: a missing column, a
type that does not compare), both give the same records, in the same order, and the
fingerprint equals :func:`assetflow.io.fingerprint` of the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.checks import CheckDef, CheckResult, parse_builtin_check
from assetflow.io import DuckDBIOManager, OutputError, Warehouse, fingerprint
from assetflow.partitions.core import DailyPartitions
from assetflow.runner.checking import CheckFailed, audit_staged, evaluate_checks

ORDERS = AssetDef(name="orders", partitions=DailyPartitions(start="2024-01-01"))
KEY = "2024-01-02"

CHECK_TEXTS = [
    "not_null(order_id)",
    "not_null(status)",
    "not_null(missing_column)",
    "unique(order_id)",
    "unique(order_id, status)",
    "unique(nothing_here)",
    "accepted_values(status, ['open', 'paid'])",
    "accepted_values(status, [])",
    "accepted_values(order_id, [1, 2, 3])",
    "accepted_values(order_id, ['a'])",
    "row_count(min=1)",
    "row_count(min=2, max=4)",
    "row_count(max=0)",
]


def _python_check(orders: Any) -> CheckResult:
    rows = orders.count("*").fetchall()[0][0]
    return CheckResult(passed=rows % 2 == 0, metadata={"rows": rows})


def check_defs(picks: list[tuple[int, bool]], with_function: bool) -> list[CheckDef]:
    defs = [
        CheckDef(
            name=f"c{i}_{CHECK_TEXTS[index]}",
            asset="orders",
            blocking=blocking,
            builtin=parse_builtin_check(CHECK_TEXTS[index], "orders"),
        )
        for i, (index, blocking) in enumerate(picks)
    ]
    if with_function:
        defs.insert(len(defs) // 2, CheckDef(name="even", asset="orders", fn=_python_check))
    return defs


ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 5)),
        st.one_of(st.none(), st.sampled_from(["open", "paid", "cancelled", "x'y", "é"])),
    ),
    max_size=8,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path: Path = tmp_path_factory.mktemp("staged") / "warehouse.duckdb"
    with Warehouse(path) as opened:
        yield opened


def first_line(error: str | None) -> str | None:
    """An error's first line; the table read is a registered or staged name, random alike."""
    if error is None:
        return None
    return re.sub(
        r'(temp\.main\.)?"?__assetflow_(value|stage)_[0-9a-f]+"?', "T", error
    ).splitlines()[0]


def comparable(records: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (r.check_name, r.blocking, r.passed, r.metadata, first_line(r.error), r.description)
        for r in records
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=ROWS,
    picks=st.lists(st.tuples(st.integers(0, len(CHECK_TEXTS) - 1), st.booleans()), max_size=6),
    with_function=st.booleans(),
)
def test_staged_checks_agree_with_one_query_per_check(
    warehouse: Warehouse,
    rows: list[tuple[Any, Any]],
    picks: list[tuple[int, bool]],
    with_function: bool,
) -> None:
    table = pa.table(
        {
            "order_id": pa.array([r[0] for r in rows], pa.int64()),
            "status": pa.array([r[1] for r in rows], pa.string()),
        }
    )
    checks = check_defs(picks, with_function)
    con = warehouse.cursor()
    try:
        expected = evaluate_checks(
            checks, ORDERS, KEY, table, con, materialization_id=7, run_id="r"
        )
        manager = DuckDBIOManager(warehouse)
        with manager.staged(ORDERS, KEY, table, con) as staged:
            assert staged is not None
            try:
                found = audit_staged(checks, ORDERS, KEY, staged, 7, "r")
            except CheckFailed as failed:
                found = list(failed.records)
                assert any(r.blocking and not r.passed for r in expected)
            else:
                assert not any(r.blocking and not r.passed for r in expected)
            assert comparable(found) == comparable(expected)
            assert staged.fingerprint == fingerprint(con.from_arrow(table))
    finally:
        con.close()
        warehouse.release()


def test_staged_rows_are_dropped_after_the_store(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "warehouse.duckdb") as warehouse:
        con = warehouse.cursor()
        manager = DuckDBIOManager(warehouse)
        manager.store(ORDERS, KEY, con.sql("SELECT 1 AS order_id"), con)
        temp = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'temp'"
        ).fetchall()
        assert temp == [(0,)]


def test_a_table_the_assets_code_dropped_is_made_again(tmp_path: Path) -> None:
    """The schema looked up once per run is looked up again when the table changed under it
    (the asset's own code may drop or recreate tables through ``context.warehouse``)."""
    with Warehouse(tmp_path / "warehouse.duckdb") as warehouse:
        con = warehouse.cursor()
        manager = DuckDBIOManager(warehouse)
        manager.store(ORDERS, "2024-01-01", con.sql("SELECT 1 AS order_id"), con)
        con.execute("DROP TABLE warehouse.main.orders")
        stored = manager.store(ORDERS, KEY, con.sql("SELECT 2 AS order_id"), con)
        assert stored.row_count == 1
        assert con.sql("SELECT order_id, _partition FROM orders").fetchall() == [(2, KEY)]
        con.execute("DROP TABLE warehouse.main.orders")
        con.execute("CREATE TABLE warehouse.main.orders (other VARCHAR, _partition VARCHAR)")
        con.execute("INSERT INTO warehouse.main.orders VALUES ('x', '2024-01-01')")
        with pytest.raises(OutputError, match="schema differs"):
            manager.store(ORDERS, "2024-01-03", con.sql("SELECT 3 AS order_id"), con)
        con.execute("DELETE FROM warehouse.main.orders")  # no other partition: replaceable
        manager.store(ORDERS, "2024-01-03", con.sql("SELECT 3 AS order_id"), con)
        assert con.sql("SELECT order_id, _partition FROM orders").fetchall() == [(3, "2024-01-03")]
