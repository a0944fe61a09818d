"""The warehouse, its locks, the manager dispatch, and concurrent stores of one asset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Output
from assetflow.io import (
    PARTITION_COLUMN,
    DuckDBIOManager,
    NoneIOManager,
    OutputError,
    ParquetIOManager,
    StoredOutput,
    Warehouse,
    io_manager_for,
)
from assetflow.io.warehouse import TableLock
from assetflow.partitions.core import DailyPartitions

ORDERS = AssetDef(name="orders", partitions=DailyPartitions(start="2024-01-01"))
TOTALS = AssetDef(name="totals")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "warehouse.duckdb") as opened:
        yield opened


@pytest.fixture
def con(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    return warehouse.cursor()


def test_table_lock_shares_and_excludes() -> None:
    lock = TableLock()
    inside: list[str] = []
    both_shared = threading.Barrier(2, timeout=5)

    def share() -> None:
        with lock.shared():
            both_shared.wait()  # two shared holders at once, or this times out
            inside.append("shared")

    sharers = [threading.Thread(target=share) for _ in range(2)]
    for thread in sharers:
        thread.start()
    for thread in sharers:
        thread.join()
    assert inside == ["shared", "shared"]

    order: list[str] = []
    with lock.exclusive():
        waiting = threading.Thread(target=lambda: _hold_shared(lock, order))
        waiting.start()
        time.sleep(0.05)
        order.append("exclusive done")
    waiting.join()
    assert order == ["exclusive done", "shared"]


def _hold_shared(lock: TableLock, order: list[str]) -> None:
    with lock.shared():
        order.append("shared")


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_stores_of_one_asset(warehouse: Warehouse) -> None:
    keys = ORDERS.partitions.keys()[:8]
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        con = warehouse.cursor()
        manager = DuckDBIOManager(warehouse)
        try:
            for round_ in range(3):  # re-runs too, so partitions are replaced under contention
                for index, key in enumerate(keys):
                    if index % 4 == worker:
                        value = con.sql(
                            f"SELECT {index} AS part, range AS n FROM range({100 + round_})"
                        )
                        manager.store(ORDERS, key, value, con)
        except BaseException as error:
            errors.append(error)
        finally:
            con.close()

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    con = warehouse.cursor()
    counts = con.sql(
        f"SELECT {PARTITION_COLUMN}, count(*), count(DISTINCT n), min(part), max(part) "
        f"FROM warehouse.main.orders GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [(key, 102, 102, i, i) for i, key in enumerate(keys)]


# -- the warehouse and the dispatch -----------------------------------------------------------


def test_warehouse_in_memory_and_closing(tmp_path: Path) -> None:
    warehouse = Warehouse(":memory:")
    con = warehouse.cursor()
    DuckDBIOManager(warehouse).store(TOTALS, "-", con.sql("SELECT 1 AS a"), con)
    assert warehouse.table("totals") == '"memory"."main"."totals"'
    warehouse.close()
    warehouse.close()
    with pytest.raises(duckdb.ConnectionException):
        warehouse.cursor()
    nested = Warehouse(tmp_path / "a" / "b" / "w.duckdb")  # folders are created
    assert nested.catalog == "w"
    assert nested.lock("t") is Warehouse(tmp_path / "a" / "b" / "w.duckdb").lock("T")
    nested.close()


def test_io_manager_for_dispatches_on_io(warehouse: Warehouse, tmp_path: Path) -> None:
    def manager(io: str) -> object:
        asset_def = AssetDef(name="x", io=io)  # type: ignore[arg-type]
        return io_manager_for(asset_def, warehouse=warehouse, data_dir=tmp_path)

    assert isinstance(manager("duckdb"), DuckDBIOManager)
    assert isinstance(manager("parquet"), ParquetIOManager)
    assert isinstance(manager("none"), NoneIOManager)
    with pytest.raises(OutputError, match="unknown io 'csv'"):
        manager("csv")


def test_none_manager(con: duckdb.DuckDBPyConnection) -> None:
    none = NoneIOManager()
    side_effect = AssetDef(name="email", io="none")
    assert none.store(side_effect, "-", con.sql("SELECT 1"), con) == StoredOutput(None, None, {})
    assert none.store(side_effect, "-", Output(None, data_version="sent-3"), con) == (
        StoredOutput("sent-3", None, {})
    )
    assert none.load(side_effect, ["-"], con) is None
