"""SQL assets: upstream names shadowed by their slices, placeholders bound as parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from assetflow.definitions.assets import AssetDef, build_sql_asset
from assetflow.io import DuckDBIOManager, OutputError, Warehouse
from assetflow.io.sql import render_sql, run_sql_asset
from assetflow.partitions.core import DailyPartitions, StaticPartitions

DAILY = DailyPartitions(start="2024-01-01", end="2024-02-01")
ORDERS = AssetDef(name="orders", partitions=DAILY)
JAN_1 = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "warehouse.duckdb") as opened:
        yield opened


@pytest.fixture
def con(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    return warehouse.cursor()


@pytest.fixture
def orders(warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> DuckDBIOManager:
    """Three stored days of orders: day d has d orders of amount 10."""
    manager = DuckDBIOManager(warehouse)
    for day in (1, 2, 3):
        value = con.sql(f"SELECT range AS order_id, 10 AS amount FROM range({day})")
        manager.store(ORDERS, f"2024-01-0{day}", value, con)
    return manager


def sql_asset(sql: str, **options: object) -> AssetDef:
    return build_sql_asset("daily_revenue", sql, partitions=DAILY, **options)


# -- placeholders -----------------------------------------------------------------------------


def test_placeholders_become_typed_parameters() -> None:
    text, used = render_sql(
        "select * from t where d >= {{start}} and d < {{ end }} and k = {{ partition_key }} "
        "and e < {{ end }}",
        "a",
    )
    assert used == ["start", "end", "partition_key"]
    assert "CAST($start AS TIMESTAMPTZ)" in text and "CAST($end AS TIMESTAMPTZ)" in text
    assert "CAST($partition_key AS VARCHAR)" in text and "{{" not in text


def test_placeholders_in_comments_are_ignored() -> None:
    text, used = render_sql("select 1 -- not {{ start }}\n/* nor {{ end }} */", "a")
    assert used == [] and text == "select 1 -- not {{ start }}\n/* nor {{ end }} */"


def test_quoted_placeholder_is_an_error() -> None:
    with pytest.raises(OutputError, match=r"puts \{\{ partition_key \}\} inside quotes"):
        render_sql("select * from t where k = '{{ partition_key }}'", "a")
    # Braces that are not a known placeholder are just text inside a string.
    assert render_sql("select '{{ whatever }}' as s", "a") == ("select '{{ whatever }}' as s", [])


def test_unknown_placeholders_are_named() -> None:
    with pytest.raises(OutputError) as raised:
        render_sql("select {{ ds }}, {{ start }}, {{ next_ds }}, {{ ds }}", "daily")
    assert str(raised.value) == (
        "asset 'daily': unknown placeholder(s) {{ ds }}, {{ next_ds }} in the SQL; "
        "the known ones are {{ partition_key }}, {{ start }}, {{ end }}"
    )
    with pytest.raises(OutputError, match="unsupported template syntax"):
        render_sql("select {{ start | date }}", "daily")
    with pytest.raises(OutputError, match="unsupported template syntax"):
        render_sql("{% if x %}select 1{% endif %}", "daily")


# -- running ----------------------------------------------------------------------------------


def test_upstream_is_restricted_to_the_mapped_partitions(
    orders: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    asset_def = sql_asset(
        "select {{ partition_key }} as day, count(*) as n, sum(amount) as revenue, "
        "min({{ start }}) as window_start, min({{ end }}) as window_end from orders"
    )
    inputs = {"orders": orders.load(ORDERS, ["2024-01-02"], con)}
    result = run_sql_asset(con, asset_def, "2024-01-02", JAN_1, inputs)
    assert result.fetchall() == [("2024-01-02", 2, 20, JAN_1[0], JAN_1[1])]
    assert [str(kind) for kind in result.types][3:] == ["TIMESTAMP WITH TIME ZONE"] * 2


def test_main_qualified_name_is_shadowed_too(
    orders: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    """DuckDB's TEMP catalog names its schema ``main`` as well, so ``main.orders`` is the view."""
    asset_def = sql_asset("select count(*) as n from main.orders")
    inputs = {"orders": orders.load(ORDERS, ["2024-01-03"], con)}
    assert run_sql_asset(con, asset_def, "2024-01-03", JAN_1, inputs).fetchall() == [(3,)]


def test_views_are_dropped_and_never_seen_by_other_cursors(
    orders: DuckDBIOManager, warehouse: Warehouse, con: duckdb.DuckDBPyConnection
) -> None:
    other = warehouse.cursor()
    asset_def = sql_asset("select count(*) as n from orders")
    slice_ = orders.load(ORDERS, ["2024-01-01"], con)
    assert slice_ is not None
    con.register("orders", slice_)  # what run_sql_asset does for the length of the query
    assert con.sql("select count(*) from orders").fetchall() == [(1,)]
    assert other.sql("select count(*) from orders").fetchall() == [(6,)]
    con.unregister("orders")
    result = run_sql_asset(con, asset_def, "2024-01-01", JAN_1, {"orders": slice_})
    assert result.fetchall() == [(1,)]
    assert con.sql("select count(*) from orders").fetchall() == [(6,)]  # the table again
    assert con.sql(
        "select count(*) from duckdb_views() where temporary and not internal"
    ).fetchall() == [(0,)]
    assert other.sql("select count(*) from orders").fetchall() == [(6,)]


def test_result_outlives_the_views_and_can_be_stored(
    orders: DuckDBIOManager, warehouse: Warehouse, con: duckdb.DuckDBPyConnection
) -> None:
    asset_def = sql_asset("select order_id, amount * 2 as doubled from orders")
    keys = ["2024-01-01", "2024-01-02", "2024-01-03"]
    result = run_sql_asset(
        con, asset_def, "2024-01-03", JAN_1, {"orders": orders.load(ORDERS, keys, con)}
    )
    stored = DuckDBIOManager(warehouse).store(asset_def, "2024-01-03", result, con)
    assert stored.row_count == 6
    assert sorted(con.sql("select doubled from daily_revenue").fetchall()) == [(20,)] * 6


def test_many_upstream_partitions(warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> None:
    """Beyond a few keys the slice joins an Arrow table of keys; it works as a view all the same."""
    manager = DuckDBIOManager(warehouse)
    january = DAILY.keys()
    for day in january:
        manager.store(ORDERS, day, con.sql("select 1 as amount"), con)
    monthly = build_sql_asset("monthly", "select sum(amount) as total from orders")
    inputs = {"orders": manager.load(ORDERS, january[1:], con)}
    assert run_sql_asset(con, monthly, "-", None, inputs).fetchall() == [(30,)]


def test_partition_key_with_a_quote_is_bound_not_spliced(
    warehouse: Warehouse, con: duckdb.DuckDBPyConnection
) -> None:
    regions = StaticPartitions(["o'hare", "x'); drop table t; --"])
    asset_def = build_sql_asset(
        "by_region", "select {{ partition_key }} as key, {{ start }} as s", partitions=regions
    )
    for key in regions.partition_keys:
        assert run_sql_asset(con, asset_def, key, None, {}).fetchall() == [(key, None)]
    result = run_sql_asset(con, asset_def, "o'hare", None, {})
    assert [str(kind) for kind in result.types] == ["VARCHAR", "TIMESTAMP WITH TIME ZONE"]


def test_none_input_sees_no_rows(orders: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    """The day before the first partition, for a self-dependency or a previous-day mapping."""
    asset_def = sql_asset("select count(*) as n, sum(amount) as total from orders")
    result = run_sql_asset(con, asset_def, "2024-01-01", JAN_1, {"orders": None})
    assert result.fetchall() == [(0, None)]


def test_none_input_without_a_table_leaves_the_name_alone(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table side_effects as select 42 as answer")  # written by an io='none' asset
    asset_def = sql_asset("select answer from side_effects")
    result = run_sql_asset(con, asset_def, "2024-01-01", JAN_1, {"side_effects": None})
    assert result.fetchall() == [(42,)]


def test_self_dependency_reads_the_previous_partition(
    warehouse: Warehouse, con: duckdb.DuckDBPyConnection
) -> None:
    manager = DuckDBIOManager(warehouse)
    running = sql_asset("select coalesce((select max(total) from daily_revenue), 0) + 1 as total")
    # The very first partition has no table to read yet (and so no columns to shadow it with):
    # it is seeded here; afterwards a None input reads as an empty table.
    manager.store(running, "2024-01-01", con.sql("select 1 as total"), con)
    first = run_sql_asset(con, running, "2024-01-01", JAN_1, {"daily_revenue": None})
    assert first.fetchall() == [(1,)]
    previous = manager.load(running, ["2024-01-01"], con)
    for day in DAILY.keys()[1:3]:
        result = run_sql_asset(con, running, day, JAN_1, {"daily_revenue": previous})
        manager.store(running, day, result, con)
        previous = manager.load(running, [day], con)
    assert previous is not None and previous.fetchall() == [(3,)]


def test_sql_errors_propagate(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.CatalogException):
        run_sql_asset(con, sql_asset("select * from no_such_table"), "2024-01-01", JAN_1, {})
    with pytest.raises(duckdb.ParserException):
        run_sql_asset(con, sql_asset("selec 1"), "2024-01-01", JAN_1, {})
    with pytest.raises(OutputError, match="has no SQL"):
        run_sql_asset(con, ORDERS, "2024-01-01", JAN_1, {})
