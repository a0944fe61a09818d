"""``assetflow show``: the rows one stored partition holds, read from where its IO manager
keeps them (a warehouse table's rows tagged with the key, or the partition's Parquet file).

Read-only: the warehouse is opened read-only (a run writing it now makes this wait for nothing:
it says which process holds it), and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import AssetflowError, PartitionError

# DuckDB and the IO managers are imported where the data is read: a project loads without them.
if TYPE_CHECKING:
    import duckdb

    from assetflow.application.project import Project
    from assetflow.definitions.assets import AssetDef

__all__ = ["DEFAULT_LIMIT", "DataQueries", "ShowError", "Shown", "show"]

DEFAULT_LIMIT = 20


class ShowError(AssetflowError):
    """A partition's rows cannot be shown: never materialized, not stored (``io = "none"``,
    a source), or its stored data is gone or locked."""


@dataclass(frozen=True)
class Shown:
    """The first rows of one stored partition.

    ``total`` is how many rows the partition holds (``rows`` holds at most the limit asked);
    ``latest`` is true when no partition was named and the most recently materialized one was
    chosen; ``location`` names the table or file read.
    """

    asset: str
    partition: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int
    materialized_at: datetime
    location: str
    latest: bool = False

    @property
    def name(self) -> str:
        return self.asset if self.partition == "-" else f"{self.asset}[{self.partition}]"

    def records(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}`` (values as DuckDB gives them to Python)."""
        names = [name for name, _ in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]


def show(
    project: Project, asset: str, partition: str | None = None, limit: int = DEFAULT_LIMIT
) -> Shown:
    """The first ``limit`` rows of ``asset``'s ``partition`` as stored now; for a partitioned
    asset without ``partition``, of its most recently materialized partition."""
    if limit < 0:
        raise PartitionError(f"--limit must be 0 or more, got {limit}")
    definition = project.asset(asset)  # SelectionError with "did you mean" if unknown
    if definition.is_source:
        raise ShowError(
            f"'{asset}' is a source: assetflow observes it but never stores it, so it has no "
            "rows to show; look at its files, or show an asset that reads it"
        )
    if definition.io == "none":
        raise ShowError(
            f"asset '{asset}' has io = \"none\": its values are not stored, so there are no "
            'rows to show (give it io = "duckdb" or "parquet" to keep them)'
        )
    successes = {
        key: state.last_success
        for (_, key), state in project.store.snapshot([asset]).items()
        if state.last_success is not None
    }
    latest = partition is None and definition.partitions.kind != "none"
    key = _chosen_key(definition, partition, successes)
    success = successes.get(key)
    if success is None:
        hint = asset if key == "-" else f"{asset} --partition {key}"
        raise ShowError(
            f"{_name(asset, key)} was never materialized: `assetflow materialize {hint}`"
        )
    from assetflow.io.parquet_io import ParquetIOManager

    if definition.io == "duckdb":
        columns, rows, total = _from_warehouse(project.config.warehouse_path, asset, key, limit)
        location = f"table {asset} in {project.config.warehouse_path}"
    else:
        path = ParquetIOManager(project.config.data_path).path(definition, key)
        columns, rows, total = _from_file(path, asset, key, limit)
        location = str(path)
    return Shown(asset, key, columns, rows, total, success.ended_at, location, latest)


def _chosen_key(definition: AssetDef, partition: str | None, successes: dict[str, Any]) -> str:
    name = definition.name
    if definition.partitions.kind == "none":
        if partition not in (None, "-"):
            raise PartitionError(
                f"asset '{name}' is not partitioned: `assetflow show {name}` without a partition"
            )
        return "-"
    if partition is not None:
        return definition.partitions.validate_key(partition)
    if not successes:
        raise ShowError(
            f"asset '{name}' was never materialized: no partition has rows to show "
            f"(`assetflow materialize {name}`)"
        )
    return max(successes, key=lambda k: (successes[k].ended_at, k))


def _name(asset: str, key: str) -> str:
    return f"asset '{asset}'" if key == "-" else f"asset '{asset}' partition '{key}'"


Rows = tuple[tuple[tuple[str, str], ...], tuple[tuple[Any, ...], ...], int]


def _from_warehouse(path: Path, asset: str, key: str, limit: int) -> Rows:
    import duckdb

    from assetflow.io.base import PARTITION_COLUMN
    from assetflow.io.warehouse import lock_holder, quote_identifier, sql_string

    gone = f"{_name(asset, key)}: its stored rows are gone"
    if not path.exists():
        raise ShowError(f"{gone}: the warehouse {path} does not exist (`assetflow verify`)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            raise ShowError(
                f"cannot read the warehouse {path}: {lock_holder(str(error))} has it open for "
                "writing; try again when it is done"
            ) from None
        raise ShowError(f"cannot read the warehouse {path}: {error}") from None
    try:
        found = con.sql(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND database_name = current_database() AND table_name = $table "
            "AND column_name = $column",
            params={"table": asset, "column": PARTITION_COLUMN},
        ).fetchall()
        if not found[0][0]:
            raise ShowError(f"{gone}: the warehouse has no table {asset} (`assetflow verify`)")
        table = f"main.{quote_identifier(asset)}"
        where = f"WHERE {quote_identifier(PARTITION_COLUMN)} = {sql_string(key)}"
        relation = con.sql(
            f"SELECT * EXCLUDE ({quote_identifier(PARTITION_COLUMN)}) FROM {table} {where}"
        )
        return _read(con, relation, limit)
    finally:
        con.close()


def _from_file(path: Path, asset: str, key: str, limit: int) -> Rows:
    import duckdb

    from assetflow.io.warehouse import sql_string

    if not path.is_file():
        raise ShowError(f"{_name(asset, key)}: its stored file {path} is gone (`assetflow verify`)")
    con = duckdb.connect(":memory:")
    try:
        return _read(con, con.sql(f"SELECT * FROM read_parquet({sql_string(str(path))})"), limit)
    except duckdb.Error as error:
        raise ShowError(f"{_name(asset, key)}: cannot read {path}: {error}") from None
    finally:
        con.close()


def _read(con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, limit: int) -> Rows:
    columns = tuple(
        (str(name), str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
    )
    total = int(relation.count("*").fetchall()[0][0])
    rows = tuple(tuple(row) for row in relation.limit(limit).fetchall()) if limit else ()
    return columns, rows, total


class DataQueries:
    """What the stored data holds (mixed into ``Project``)."""

    def show(
        self, asset: str, partition: str | None = None, *, limit: int = DEFAULT_LIMIT
    ) -> Shown:
        """The first ``limit`` rows ``asset``'s ``partition`` holds as stored now; for a
        partitioned asset without ``partition``, its most recently materialized partition.
        Raises an AssetflowError naming the culprit (unknown asset or partition, never
        materialized, not stored, data gone)."""
        project: Project = self  # type: ignore[assignment]
        return show(project, asset, partition, limit)
