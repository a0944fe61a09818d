"""The parquet IO manager: one file per partition, atomic replacement, exact loads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Output
from assetflow.io import (
    OutputError,
    ParquetIOManager,
    StoredOutput,
    Warehouse,
    fingerprint,
    partition_file_name,
    partition_key_of,
)
from assetflow.partitions.core import HourlyPartitions

HOURLY = HourlyPartitions(start="2024-01-01T00:00", end="2024-01-03T00:00")
EVENTS = AssetDef(name="events", partitions=HOURLY, io="parquet")
ROWS_SQL = "SELECT range AS id, 'event ' || range AS label FROM range({n})"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Warehouse(tmp_path / "warehouse.duckdb") as warehouse:
        yield warehouse.cursor()


@pytest.fixture
def manager(tmp_path: Path) -> ParquetIOManager:
    return ParquetIOManager(tmp_path / "data")


def rows(relation: duckdb.DuckDBPyRelation | None) -> list[tuple[object, ...]]:
    assert relation is not None
    return sorted(relation.fetchall())


def folder_names(manager: ParquetIOManager) -> list[str]:
    return sorted(path.name for path in manager.folder(EVENTS).iterdir())


@given(st.text(min_size=1, max_size=40))
def test_file_names_are_safe_and_reversible(key: str) -> None:
    name = partition_file_name(key)
    assert partition_key_of(name) == key
    assert not set(name) & set('/\\:|*?"<>')
    assert name.endswith(".parquet")


def test_file_name_examples() -> None:
    assert partition_file_name("2024-01-31") == "2024-01-31.parquet"
    assert partition_file_name("2024-01-31T13:00") == "2024-01-31T13%3A00.parquet"
    assert partition_file_name("2024-01-31|eu") == "2024-01-31%7Ceu.parquet"
    assert partition_file_name("-") == "-.parquet"


def test_round_trip(manager: ParquetIOManager, con: duckdb.DuckDBPyConnection) -> None:
    key = "2024-01-01T13:00"
    stored = manager.store(EVENTS, key, con.sql(ROWS_SQL.format(n=3)), con)
    assert manager.path(EVENTS, key).is_file()
    loaded = manager.load(EVENTS, [key], con)
    assert rows(loaded) == [(0, "event 0"), (1, "event 1"), (2, "event 2")]
    assert loaded is not None
    assert stored == StoredOutput(
        fingerprint(loaded).data_version, 3, {"path": str(manager.path(EVENTS, key))}
    )


@pytest.mark.parametrize(
    "value",
    [
        pa.table({"id": [1, 2], "label": ["a", "b"]}),
        pa.record_batch({"id": [1, 2], "label": ["a", "b"]}),
    ],
    ids=["table", "record-batch"],
)
def test_arrow_values(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection, value: object
) -> None:
    manager.store(EVENTS, "2024-01-01T00:00", value, con)
    assert rows(manager.load(EVENTS, ["2024-01-01T00:00"], con)) == [(1, "a"), (2, "b")]


def test_dataframes(manager: ParquetIOManager, con: duckdb.DuckDBPyConnection) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    manager.store(EVENTS, "2024-01-01T00:00", pd.DataFrame({"id": [1], "label": ["a"]}), con)
    manager.store(EVENTS, "2024-01-01T01:00", pl.DataFrame({"id": [2], "label": ["b"]}), con)
    keys = ["2024-01-01T00:00", "2024-01-01T01:00"]
    assert rows(manager.load(EVENTS, keys, con)) == [(1, "a"), (2, "b")]


def test_output_and_none(manager: ParquetIOManager, con: duckdb.DuckDBPyConnection) -> None:
    value = Output(con.sql(ROWS_SQL.format(n=1)), data_version="mine", metadata={"k": 1})
    stored = manager.store(EVENTS, "2024-01-01T00:00", value, con)
    assert stored.data_version == "mine" and stored.metadata["k"] == 1
    assert manager.store(EVENTS, "2024-01-01T01:00", None, con) == StoredOutput(None, None, {})
    assert not manager.path(EVENTS, "2024-01-01T01:00").exists()
    with pytest.raises(OutputError, match="returned a list;"):
        manager.store(EVENTS, "2024-01-01T01:00", [1, 2], con)


def test_replace_and_idempotent_rerun(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    first = manager.store(EVENTS, "2024-01-01T00:00", con.sql(ROWS_SQL.format(n=20)), con)
    manager.store(EVENTS, "2024-01-01T01:00", con.sql(ROWS_SQL.format(n=2)), con)
    again = con.sql(ROWS_SQL.format(n=20) + " ORDER BY id DESC")
    assert manager.store(EVENTS, "2024-01-01T00:00", again, con) == first
    changed = manager.store(EVENTS, "2024-01-01T00:00", con.sql(ROWS_SQL.format(n=21)), con)
    assert changed.data_version != first.data_version
    assert len(rows(manager.load(EVENTS, ["2024-01-01T00:00"], con))) == 21
    assert len(rows(manager.load(EVENTS, ["2024-01-01T01:00"], con))) == 2
    assert folder_names(manager) == ["2024-01-01T00%3A00.parquet", "2024-01-01T01%3A00.parquet"]


def test_crash_before_rename_keeps_the_old_file(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "2024-01-01T00:00"
    manager.store(EVENTS, key, con.sql(ROWS_SQL.format(n=2)), con)
    before = manager.path(EVENTS, key).read_bytes()
    seen: list[str] = []

    def crash(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        seen.extend(sorted(path.name for path in Path(source).parent.iterdir()))
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        manager.store(EVENTS, key, con.sql(ROWS_SQL.format(n=5)), con)
    assert any(name.endswith(".tmp") for name in seen)  # the new file was fully written
    assert manager.path(EVENTS, key).read_bytes() == before
    assert folder_names(manager) == ["2024-01-01T00%3A00.parquet"]  # no temporary file left


def test_failed_write_keeps_the_old_file(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    key = "2024-01-01T00:00"
    manager.store(EVENTS, key, con.sql(ROWS_SQL.format(n=2)), con)
    failing = con.sql(
        "SELECT CAST(v AS BIGINT) AS id, 'x' AS label FROM (VALUES ('1'), ('x')) t(v)"
    )
    with pytest.raises(duckdb.ConversionException):
        manager.store(EVENTS, key, failing, con)
    assert len(rows(manager.load(EVENTS, [key], con))) == 2
    assert folder_names(manager) == ["2024-01-01T00%3A00.parquet"]


def test_stale_temporary_files_are_swept(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    key = "2024-01-01T00:00"
    folder = manager.folder(EVENTS)
    folder.mkdir(parents=True)
    stale = folder / f".{partition_file_name(key)}.0123abcd.tmp"
    stale.write_bytes(b"half a file from a killed process")
    manager.store(EVENTS, key, con.sql(ROWS_SQL.format(n=1)), con)
    assert folder_names(manager) == ["2024-01-01T00%3A00.parquet"]


def test_schema_change_is_refused_while_other_partitions_exist(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    manager.store(EVENTS, "2024-01-01T00:00", con.sql(ROWS_SQL.format(n=2)), con)
    # The only partition may change its schema freely.
    manager.store(EVENTS, "2024-01-01T00:00", con.sql("SELECT 1 AS id, 'x' AS label"), con)
    manager.store(EVENTS, "2024-01-01T01:00", con.sql("SELECT 2 AS id, 'y' AS label"), con)
    with pytest.raises(OutputError) as raised:
        manager.store(EVENTS, "2024-01-01T01:00", con.sql("SELECT 2 AS id, 3 AS amount"), con)
    message = str(raised.value)
    assert "asset 'events' partition '2024-01-01T01:00'" in message
    assert "new column(s) amount" in message and "missing column(s) label" in message
    assert "(1 file(s))" in message
    assert rows(manager.load(EVENTS, ["2024-01-01T01:00"], con)) == [(2, "y")]
    assert len(folder_names(manager)) == 2


def test_load_reads_exactly_the_files_asked_for(
    manager: ParquetIOManager, con: duckdb.DuckDBPyConnection
) -> None:
    keys = HOURLY.keys()
    for index, key in enumerate(keys):
        manager.store(EVENTS, key, con.sql(f"SELECT {index} AS hour"), con)
    assert rows(manager.load(EVENTS, keys[3:4], con)) == [(3,)]
    assert rows(manager.load(EVENTS, keys[10:20], con)) == [(i,) for i in range(10, 20)]
    assert rows(manager.load(EVENTS, keys[::5], con)) == [(i,) for i in range(0, 48, 5)]
    assert rows(manager.load(EVENTS, keys, con)) == [(i,) for i in range(48)]
    # Partitions never stored (the function returned None) are simply absent.
    assert rows(manager.load(EVENTS, [*keys[:2], "2024-05-01T00:00"], con)) == [(0,), (1,)]
    assert manager.load(EVENTS, ["2024-05-01T00:00"], con) is None
    assert manager.load(EVENTS, [], con) is None
