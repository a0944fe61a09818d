"""The ``duckdb`` IO manager: one warehouse table per asset, one set of rows per partition.

Storing a partition happens in two phases. The value is first read once into a TEMP staging table
on the step's cursor; that is where the user's query runs, where its errors surface, and where the
fingerprint is computed, all without a lock and without touching the stored table. Then, in one
transaction, the partition's old rows are deleted and the staged rows inserted. Steps writing
different partitions of one table do that side by side (DuckDB lets transactions delete different
rows of a table concurrently); creating the table, or recreating it for a new schema, waits until
the table's other writers are done (see :class:`~assetflow.io.warehouse.TableLock`). If anything
in the transaction fails, it is rolled back and the partition keeps its previous rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import (
    PARTITION_COLUMN,
    OutputError,
    StoredOutput,
    schema_difference,
    unique_keys,
    unwrap,
    where,
)
from assetflow.io.staging import StagedRows, staged_rows
from assetflow.io.warehouse import (
    Warehouse,
    data_columns,
    quote_identifier,
    sql_string,
    table_columns,
)

# Up to this many keys a load lists them in the WHERE clause; beyond, the keys are an Arrow table
# joined to the stored rows. A literal list costs about 10 ms per 1,000 keys to parse (and the
# relation is parsed again at every read), the join a flat ~4 ms.
_LITERAL_KEYS = 32
_PARTITION = quote_identifier(PARTITION_COLUMN)


class DuckDBIOManager:
    """Stores each partition as rows of the table named after the asset, tagged ``_partition``."""

    kind = "duckdb"

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """The stored rows of exactly ``partitions``, without ``_partition``.

        ``None`` if ``partitions`` is empty or the asset has no table yet.
        """
        keys = unique_keys(partitions)
        if not keys:
            return None
        found = self.warehouse.columns(con, asset_def.name)
        if found is None:
            return None
        self._check_managed(asset_def, keys[0], found)
        table = self.warehouse.table(asset_def.name)
        if len(keys) <= _LITERAL_KEYS:
            listed = ", ".join(sql_string(key) for key in keys)
            return con.sql(
                f"SELECT * EXCLUDE ({_PARTITION}) FROM {table} WHERE {_PARTITION} IN ({listed})"
            )
        # The bounds let DuckDB skip row groups by their min/max; the semi join makes it exact.
        first, last = sql_string(min(keys)), sql_string(max(keys))
        rows = con.sql(f"SELECT * FROM {table} WHERE {_PARTITION} BETWEEN {first} AND {last}")
        import pyarrow as pa  # type: ignore[import-untyped]  # only for inputs of many partitions

        wanted = con.from_arrow(pa.table({PARTITION_COLUMN: pa.array(keys, pa.string())}))
        return rows.join(wanted, PARTITION_COLUMN, "semi").project(f"* EXCLUDE ({_PARTITION})")

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Replace partition ``partition_key`` of the asset's table with ``value``'s rows."""
        with self.staged(asset_def, partition_key, value, con) as rows:
            return self.store_staged(asset_def, partition_key, value, rows)

    @contextmanager
    def staged(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> Iterator[StagedRows | None]:
        """``value``'s rows read once into a TEMP table on ``con`` for the block (``None`` when
        it holds no value): the checks read them there, then :meth:`store_staged` stores them."""
        output = unwrap(value)
        if output.value is None:
            yield None
            return

        def stored_columns() -> list[tuple[str, str]] | None:
            found = self.warehouse.columns(con, asset_def.name)
            return data_columns(found[1]) if found else None

        with staged_rows(con, output.value, asset_def, partition_key, stored_columns) as rows:
            yield rows

    def store_staged(
        self, asset_def: AssetDef, partition_key: str, value: object, rows: StagedRows | None
    ) -> StoredOutput:
        """Replace the partition's stored rows with the staged ``rows`` of ``value``."""
        output = unwrap(value)
        if rows is None:
            return StoredOutput(output.data_version, None, output.metadata)
        for name, _ in rows.schema:
            if name.lower() == PARTITION_COLUMN:
                raise OutputError(
                    f"{where(asset_def, partition_key)}: the column name {name!r} is "
                    "reserved for assetflow's partition key; rename that column"
                )
        content = rows.fingerprint
        table_lock = self.warehouse.lock(asset_def.name)
        with self.warehouse.partition_lock(asset_def.name, partition_key):
            with table_lock.shared():
                replaced = self._replace_rows(asset_def, partition_key, rows)
            if not replaced:
                with table_lock.exclusive():
                    self._publish(asset_def, partition_key, rows)
        return StoredOutput(
            output.data_version or content.data_version,
            content.row_count,
            {"table": asset_def.name, **output.metadata},
            tuple(rows.schema),
        )

    def _replace_rows(self, asset_def: AssetDef, partition_key: str, rows: StagedRows) -> bool:
        """Swap the partition's rows for the staged ones if the table exists with this schema.

        ``False`` (and nothing changed) when the table must be created or recreated first, or
        when the swap failed on a table that changed since its schema was looked up: the
        exclusive path looks again and creates the table, or says why it cannot.
        """
        con = rows.con
        found = self.warehouse.columns(con, asset_def.name)
        if (
            found is None
            or found[0] != asset_def.name
            or PARTITION_COLUMN not in (column for column, _ in found[1])
            or data_columns(found[1]) != rows.schema
        ):
            return False  # missing, foreign or of another schema
        table = self.warehouse.table(asset_def.name)
        con.begin()
        try:
            _swap_rows(con, table, rows.name, partition_key)
            con.commit()
        except (duckdb.CatalogException, duckdb.BinderException):
            # The table is not what was looked up (the asset's code changed it): look again.
            _rollback(con)
            self.warehouse.forget(asset_def.name)
            return False
        except BaseException:
            _rollback(con)
            raise
        return True

    def _publish(self, asset_def: AssetDef, partition_key: str, rows: StagedRows) -> None:
        """Create or recreate the table if need be, then swap the partition's rows, at once."""
        con, stage, schema = rows.con, rows.name, rows.schema
        table = self.warehouse.table(asset_def.name)
        key = {"key": partition_key}
        tagged = _tagged(stage)
        self.warehouse.forget(asset_def.name)
        con.begin()
        try:
            found = table_columns(con, self.warehouse.catalog, asset_def.name)
            if found is None:
                con.execute(f"CREATE TABLE {table} AS {tagged}", key)
            else:
                self._check_managed(asset_def, partition_key, found)
                stored = data_columns(found[1])
                if stored != schema:
                    self._check_replaceable(asset_def, partition_key, stored, schema, con)
                    con.execute(f"DROP TABLE {table}")
                    con.execute(f"CREATE TABLE {table} AS {tagged}", key)
                else:
                    _swap_rows(con, table, stage, partition_key)
            con.commit()
        except BaseException:
            _rollback(con)
            raise
        found = table_columns(con, self.warehouse.catalog, asset_def.name)
        if found is not None:
            self.warehouse.remember(asset_def.name, found)

    def _check_managed(
        self, asset_def: AssetDef, partition_key: str, found: tuple[str, list[tuple[str, str]]]
    ) -> None:
        """OutputError unless the table found is this asset's own assetflow table."""
        name, columns = found
        if name != asset_def.name:
            raise OutputError(
                f"{where(asset_def, partition_key)}: the warehouse already has a table {name!r}, "
                f"and DuckDB table names ignore case; rename one of the two"
            )
        if PARTITION_COLUMN not in (column for column, _ in columns):
            raise OutputError(
                f"{where(asset_def, partition_key)}: the warehouse table {name!r} has no "
                f"{PARTITION_COLUMN} column, so it was not written by assetflow; drop or rename "
                "it, or give the asset io='none'"
            )

    def _check_replaceable(
        self,
        asset_def: AssetDef,
        partition_key: str,
        stored: list[tuple[str, str]],
        schema: list[tuple[str, str]],
        con: duckdb.DuckDBPyConnection,
    ) -> None:
        """A new schema may replace the table only if no other partition has rows in it."""
        table = self.warehouse.table(asset_def.name)
        row = con.sql(
            f"SELECT count(DISTINCT {_PARTITION}) FROM {table} WHERE {_PARTITION} <> $key",
            params={"key": partition_key},
        ).fetchall()[0]
        others = int(row[0])
        if others:
            raise OutputError(
                f"{where(asset_def, partition_key)}: the schema differs from the "
                f"{others} other stored partition(s) of table {asset_def.name!r}: "
                f"{schema_difference(stored, schema)}. Keep the schema, or drop the table "
                "(DROP TABLE " + asset_def.name + ") and materialize every partition again"
            )


def _tagged(stage: str) -> str:
    """The staged rows with the partition key (bound as ``$key``) added."""
    return f"SELECT *, CAST($key AS VARCHAR) AS {_PARTITION} FROM {stage}"


def _swap_rows(con: duckdb.DuckDBPyConnection, table: str, stage: str, partition_key: str) -> None:
    """Delete the partition's rows and insert the staged ones (inside the caller's transaction)."""
    key = {"key": partition_key}
    con.execute(f"DELETE FROM {table} WHERE {_PARTITION} = $key", key)
    con.execute(f"INSERT INTO {table} BY NAME {_tagged(stage)}", key)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A failed statement may already have ended the transaction: then there is nothing to undo.
    with contextlib.suppress(duckdb.Error):
        con.rollback()
