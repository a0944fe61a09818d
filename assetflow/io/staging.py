"""A return value read once into a TEMP table: what the checks read, fingerprint and store.

The DuckDB IO manager stages a step's value before anything else looks at it: the value (a
relation, an Arrow table, a DataFrame) is read exactly once, by one ``CREATE TEMP TABLE ... AS``
on the step's cursor. Then one aggregate query over the staged rows yields both the fingerprint
(row count and the sum of row hashes, see :mod:`assetflow.io.fingerprint`) and every built-in
check's figure; the store copies the staged rows into the asset's table. Before, the value was
copied into Arrow for the checks, registered again for the store, and scanned a third time for
the fingerprint, with one query per check.

A TEMP table belongs to the cursor that made it: the checks' own queries and the store run on
that cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.fingerprint import Fingerprint, digest
from assetflow.io.values import NULL_TYPE as _NULL_TYPE
from assetflow.io.values import registered, source_columns
from assetflow.io.warehouse import quote_identifier

__all__ = ["StagedRows", "staged_rows"]


class StagedRows:
    """The staged rows of one value: the TEMP table's name, its schema and its fingerprint."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, name: str, schema: Sequence[tuple[str, str]]
    ) -> None:
        self.con = con
        self.name = name  # qualified and quoted: temp.main."__assetflow_stage_..."
        self.schema = list(schema)
        self._fingerprint: Fingerprint | None = None

    def aggregate(
        self, expressions: Sequence[str], params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...]:
        """The values of ``expressions`` (SQL over the staged table), read in the same query
        that fingerprints the rows; the fingerprint is kept for :attr:`fingerprint`."""
        columns = ", ".join(quote_identifier(name) for name, _ in self.schema)
        row_hash = f"coalesce(sum(hash({columns})::HUGEINT), 0)" if columns else "0"
        selected = ", ".join(["count(*)", row_hash, *expressions])
        found = self.con.execute(f"SELECT {selected} FROM {self.name}", dict(params or {}))
        row = found.fetchall()[0]
        row_count, hash_sum = int(row[0]), int(row[1])
        self._fingerprint = Fingerprint(digest(self.schema, row_count, hash_sum), row_count)
        return tuple(row[2:])

    @property
    def fingerprint(self) -> Fingerprint:
        """The staged rows' data version and row count (one query, unless
        :meth:`aggregate` already read them)."""
        if self._fingerprint is None:
            self.aggregate(())
        assert self._fingerprint is not None
        return self._fingerprint


@contextmanager
def staged_rows(
    con: duckdb.DuckDBPyConnection,
    value: object,
    asset_def: AssetDef,
    partition_key: str,
    stored_columns: Callable[[], Sequence[tuple[str, str]] | None],
) -> Iterator[StagedRows]:
    """``value`` read once into a TEMP table on ``con`` for the block, dropped after it.

    ``stored_columns`` gives the stored table's columns, to type the value's all-NULL columns
    alike (asked only if there is one: see :func:`~assetflow.io.values.source_columns`).
    """
    name = "temp.main." + quote_identifier(f"__assetflow_stage_{uuid.uuid4().hex}")
    try:
        schema = _created_from_relation(con, value, name)
        if schema is not None:
            yield StagedRows(con, name, schema)
            return
        with registered(con, value, asset_def, partition_key) as source:
            select, schema = source_columns(con, source, stored_columns)
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT {select} FROM {source}")
        if "CAST(" in select:  # typed like the stored columns: as DuckDB spells them now
            staged = con.sql(f"SELECT * FROM {name}")
            schema = [(str(c), str(k)) for c, k in zip(staged.columns, staged.types, strict=True)]
        yield StagedRows(con, name, schema)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _created_from_relation(
    con: duckdb.DuckDBPyConnection, value: object, name: str
) -> list[tuple[str, str]] | None:
    """Stage a relation of ``con`` itself straight from its query (no registering, no second
    bind); ``None`` for anything else, or a relation with an all-NULL column (typed like the
    stored table's by the general path)."""
    # ``_con`` and ``_write`` (a statement around the relation's query, its parameters bound)
    # are the relation layer's own: were they renamed, the general path runs. ``create()``
    # cannot make a TEMP table.
    write = getattr(value, "_write", None)
    if (
        not isinstance(value, duckdb.DuckDBPyRelation)
        or getattr(value, "_con", None) is not con
        or not callable(write)
    ):
        return None
    schema = [(str(c), str(k)) for c, k in zip(value.columns, value.types, strict=True)]
    if any(kind == _NULL_TYPE for _, kind in schema):
        return None
    write(f"CREATE TEMP TABLE {name} AS ")
    return schema
