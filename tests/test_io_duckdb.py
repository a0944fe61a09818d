"""The duckdb IO manager on real warehouse files: round trips, partition replacement, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Output
from assetflow.io import (
    PARTITION_COLUMN,
    DuckDBIOManager,
    OutputError,
    StoredOutput,
    Warehouse,
    fingerprint,
)
from assetflow.partitions.core import DailyPartitions

DAILY = DailyPartitions(start="2024-01-01", end="2025-01-01")
ORDERS = AssetDef(name="orders", partitions=DAILY)
TOTALS = AssetDef(name="totals")
ROWS_SQL = "SELECT range AS id, 'item ' || range AS label FROM range({n})"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "warehouse.duckdb") as opened:
        yield opened


@pytest.fixture
def con(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    return warehouse.cursor()


@pytest.fixture
def manager(warehouse: Warehouse) -> DuckDBIOManager:
    return DuckDBIOManager(warehouse)


def rows(relation: duckdb.DuckDBPyRelation | None) -> list[tuple[object, ...]]:
    assert relation is not None
    return sorted(relation.fetchall())


def stored_rows(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple[object, ...]]:
    return sorted(
        con.sql(
            f"SELECT * EXCLUDE ({PARTITION_COLUMN}) FROM warehouse.main.orders "
            f"WHERE {PARTITION_COLUMN} = $key",
            params={"key": key},
        ).fetchall()
    )


# -- accepted values --------------------------------------------------------------------------


def test_relation_round_trip(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    stored = manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    loaded = manager.load(ORDERS, ["2024-01-01"], con)
    assert rows(loaded) == [(0, "item 0"), (1, "item 1"), (2, "item 2")]
    assert loaded is not None and loaded.columns == ["id", "label"]
    assert stored.row_count == 3
    assert stored.data_version == fingerprint(loaded).data_version
    assert stored.metadata == {"table": "orders"}


def test_relation_of_another_cursor(
    manager: DuckDBIOManager, warehouse: Warehouse, con: duckdb.DuckDBPyConnection
) -> None:
    other = warehouse.cursor()
    manager.store(ORDERS, "2024-01-01", other.sql(ROWS_SQL.format(n=2)), con)
    assert rows(manager.load(ORDERS, ["2024-01-01"], con)) == [(0, "item 0"), (1, "item 1")]


def test_relation_of_another_database(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    private = duckdb.connect()  # what a function making its own connection returns
    private.execute("CREATE TABLE source AS " + ROWS_SQL.format(n=4))
    stored = manager.store(ORDERS, "2024-01-01", private.sql("SELECT * FROM source"), con)
    assert stored.row_count == 4
    assert len(rows(manager.load(ORDERS, ["2024-01-01"], con))) == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.table({"id": [1, 2], "label": ["a", "b"]}),
        lambda: pa.record_batch({"id": [1, 2], "label": ["a", "b"]}),
        lambda: pa.RecordBatchReader.from_batches(
            pa.schema([("id", pa.int64()), ("label", pa.string())]),
            [
                pa.record_batch({"id": [1], "label": ["a"]}),
                pa.record_batch({"id": [2], "label": ["b"]}),
            ],
        ),
    ],
    ids=["table", "record-batch", "record-batch-reader"],
)
def test_arrow_round_trip(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection, make: object
) -> None:
    value = make()  # type: ignore[operator]
    stored = manager.store(ORDERS, "2024-01-01", value, con)
    assert rows(manager.load(ORDERS, ["2024-01-01"], con)) == [(1, "a"), (2, "b")]
    assert stored.row_count == 2


def test_pandas_round_trip(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2], "label": ["a", None]})
    stored = manager.store(ORDERS, "2024-01-01", frame, con)
    assert rows(manager.load(ORDERS, ["2024-01-01"], con)) == [(1, "a"), (2, None)]
    assert stored.row_count == 2


def test_polars_round_trip(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": [1, 2], "label": ["a", "b"]})
    stored = manager.store(ORDERS, "2024-01-01", frame, con)
    assert rows(manager.load(ORDERS, ["2024-01-01"], con)) == [(1, "a"), (2, "b")]
    assert stored.row_count == 2


def test_same_rows_same_version_whatever_the_type(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    relation = con.sql("SELECT * FROM (VALUES (1::BIGINT, 'a'), (2, 'b')) t(id, label)")
    arrow = pa.table({"id": [2, 1], "label": ["b", "a"]})
    first = manager.store(ORDERS, "2024-01-01", relation, con)
    second = manager.store(ORDERS, "2024-01-02", arrow, con)
    assert first.data_version == second.data_version


def test_output_unwrapped(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    value = Output(con.sql(ROWS_SQL.format(n=2)), data_version="v7", metadata={"source": "api"})
    stored = manager.store(ORDERS, "2024-01-01", value, con)
    assert stored == StoredOutput("v7", 2, {"table": "orders", "source": "api"})
    assert len(rows(manager.load(ORDERS, ["2024-01-01"], con))) == 2


def test_none_stores_nothing(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    assert manager.store(ORDERS, "2024-01-01", None, con) == StoredOutput(None, None, {})
    assert manager.store(ORDERS, "2024-01-01", Output(None, data_version="v1"), con) == (
        StoredOutput("v1", None, {})
    )
    assert manager.load(ORDERS, ["2024-01-01"], con) is None  # no table was created


def test_unsupported_type_names_asset_partition_and_type(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(OutputError) as raised:
        manager.store(ORDERS, "2024-01-01", {"id": [1]}, con)
    assert str(raised.value) == (
        "asset 'orders' partition '2024-01-01' returned a dict; expected a DuckDB relation, "
        "pyarrow Table, pandas or polars DataFrame, Output, or None"
    )
    with pytest.raises(OutputError, match="returned an int;"):
        manager.store(ORDERS, "2024-01-01", 42, con)


def test_reserved_column_is_refused(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(OutputError, match="'_partition' is reserved"):
        manager.store(ORDERS, "2024-01-01", con.sql("SELECT 1 AS _partition"), con)


# -- replacing partitions ---------------------------------------------------------------------


def test_store_replaces_exactly_its_partition(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    manager.store(ORDERS, "2024-01-02", con.sql(ROWS_SQL.format(n=2)), con)
    manager.store(ORDERS, "2024-01-01", con.sql("SELECT 9::BIGINT AS id, 'new' AS label"), con)
    assert stored_rows(con, "2024-01-01") == [(9, "new")]
    assert stored_rows(con, "2024-01-02") == [(0, "item 0"), (1, "item 1")]


def test_empty_value_empties_the_partition(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    stored = manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=0)), con)
    assert stored.row_count == 0 and stored.data_version is not None
    assert stored_rows(con, "2024-01-01") == []
    first_empty = manager.store(ORDERS, "2024-01-02", con.sql(ROWS_SQL.format(n=0)), con)
    assert first_empty == stored


def test_rerun_is_idempotent(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> None:
    first = manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=50)), con)
    reordered = con.sql(ROWS_SQL.format(n=50) + " ORDER BY id DESC")
    second = manager.store(ORDERS, "2024-01-01", reordered, con)
    assert first == second
    assert len(stored_rows(con, "2024-01-01")) == 50


def test_failed_read_leaves_previous_rows(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    # The cast fails at run time, on the row 'x', after other rows were read.
    failing = con.sql(
        "SELECT CAST(v AS BIGINT) AS id, 'l' AS label FROM (VALUES ('1'), ('2'), ('x')) t(v)"
    )
    with pytest.raises(duckdb.ConversionException):
        manager.store(ORDERS, "2024-01-01", failing, con)
    assert stored_rows(con, "2024-01-01") == [(0, "item 0"), (1, "item 1"), (2, "item 2")]
    temporary = con.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
    assert temporary == [(0,)]  # the staging table is gone


def test_failed_insert_is_rolled_back(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    # A constraint someone added to the table fails the INSERT after the DELETE has run.
    con.execute("ALTER TABLE warehouse.main.orders ALTER COLUMN label SET NOT NULL")
    with_null = con.sql("SELECT 5::BIGINT AS id, NULL::VARCHAR AS label")
    with pytest.raises(duckdb.ConstraintException):
        manager.store(ORDERS, "2024-01-01", with_null, con)
    assert stored_rows(con, "2024-01-01") == [(0, "item 0"), (1, "item 1"), (2, "item 2")]
    # The cursor is usable again: no transaction left open.
    manager.store(ORDERS, "2024-01-02", con.sql(ROWS_SQL.format(n=1)), con)


def test_schema_change_names_asset_partition_and_column(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=3)), con)
    manager.store(ORDERS, "2024-01-02", con.sql(ROWS_SQL.format(n=3)), con)
    with pytest.raises(OutputError) as raised:
        manager.store(ORDERS, "2024-01-02", con.sql("SELECT 1 AS id, 'x' AS title"), con)
    message = str(raised.value)
    assert "asset 'orders' partition '2024-01-02'" in message
    assert "new column(s) title" in message and "missing column(s) label" in message
    assert "changed type(s) id BIGINT -> INTEGER" in message
    assert len(stored_rows(con, "2024-01-02")) == 3  # left as it was


def test_schema_change_of_the_only_partition_replaces_the_table(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(TOTALS, "-", con.sql("SELECT 1 AS a"), con)
    stored = manager.store(TOTALS, "-", con.sql("SELECT 'x' AS b, 2.5::DOUBLE AS c"), con)
    loaded = manager.load(TOTALS, ["-"], con)
    assert loaded is not None and loaded.columns == ["b", "c"]
    assert rows(loaded) == [("x", 2.5)]
    assert stored.row_count == 1


def test_all_null_dataframe_column_takes_the_stored_type(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    pd = pytest.importorskip("pandas")
    manager.store(ORDERS, "2024-01-01", con.sql(ROWS_SQL.format(n=2)), con)
    empty_labels = pd.DataFrame({"id": [7], "label": [None]})
    manager.store(ORDERS, "2024-01-02", empty_labels, con)
    assert stored_rows(con, "2024-01-02") == [(7, None)]


def test_table_not_written_by_assetflow_is_refused(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    with pytest.raises(OutputError, match="no _partition column"):
        manager.store(ORDERS, "2024-01-01", con.sql("SELECT 1 AS id"), con)
    with pytest.raises(OutputError, match="not written by assetflow"):
        manager.load(ORDERS, ["2024-01-01"], con)


def test_table_names_differing_only_in_case_are_refused(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(ORDERS, "2024-01-01", con.sql("SELECT 1 AS id"), con)
    shouting = AssetDef(name="ORDERS", partitions=DAILY)
    with pytest.raises(OutputError, match="ignore case"):
        manager.store(shouting, "2024-01-01", con.sql("SELECT 1 AS id"), con)


# -- loading ----------------------------------------------------------------------------------


@pytest.fixture
def year(manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection) -> list[str]:
    """366 stored days, partition i holding the rows (i, 0) and (i, 1)."""
    keys = DAILY.keys()
    table = pa.table(
        {
            "day": [i for i in range(len(keys)) for _ in range(2)],
            "n": [j for _ in keys for j in range(2)],
            PARTITION_COLUMN: [key for key in keys for _ in range(2)],
        }
    )
    manager.store(ORDERS, keys[0], con.sql("SELECT 0::BIGINT AS day, 0::BIGINT AS n"), con)
    con.register("year_rows", table)
    con.execute("DELETE FROM warehouse.main.orders")
    con.execute("INSERT INTO warehouse.main.orders SELECT * FROM year_rows")
    con.unregister("year_rows")
    return keys


@pytest.mark.parametrize(
    "picked",
    [
        [0],
        [5, 6, 7],
        list(range(40)),  # contiguous, beyond the literal list
        list(range(0, 366, 3)),  # non-contiguous
        list(range(366)),  # every partition
        [300, 2, 150, 2],  # out of order, repeated
    ],
    ids=["one", "few", "contiguous", "non-contiguous", "all", "unordered"],
)
def test_load_restricts_to_exactly_the_partitions(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection, year: list[str], picked: list[int]
) -> None:
    loaded = manager.load(ORDERS, [year[i] for i in picked], con)
    assert loaded is not None and loaded.columns == ["day", "n"]
    assert rows(loaded) == sorted((i, j) for i in set(picked) for j in range(2))


def test_load_of_partitions_never_stored(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    assert manager.load(ORDERS, ["2024-01-01"], con) is None  # no table yet
    manager.store(ORDERS, "2024-01-01", con.sql("SELECT 1 AS id"), con)
    assert rows(manager.load(ORDERS, ["2024-01-02"], con)) == []
    assert manager.load(ORDERS, [], con) is None


def test_keys_with_quotes_are_stored_and_loaded(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    keys = ["it's", "back\\slash", "a|b", "--", "'; DROP TABLE orders; --"]
    for i, key in enumerate(keys):
        manager.store(ORDERS, key, con.sql(f"SELECT {i} AS id"), con)
    assert rows(manager.load(ORDERS, keys[:2], con)) == [(0,), (1,)]
    many = keys + [f"k{i}" for i in range(40)]
    assert rows(manager.load(ORDERS, many, con)) == [(i,) for i in range(len(keys))]


def test_loaded_inputs_combine_freely(
    manager: DuckDBIOManager, con: duckdb.DuckDBPyConnection, year: list[str]
) -> None:
    first = manager.load(ORDERS, year[:40], con)
    second = manager.load(ORDERS, year[40:80], con)
    assert first is not None and second is not None
    both = first.union(second)
    assert both.aggregate("count(*)").fetchall() == [(160,)]
    mine = con.sql("SELECT * FROM range(3) t(x) WHERE x < ?", params=[2])
    assert first.cross(mine).aggregate("count(*)").fetchall() == [(160,)]
