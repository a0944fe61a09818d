"""Return values as DuckDB sees them: which types are accepted and how each is read once.

Every accepted value is registered on the step's cursor under a unique name and read from there
by SQL exactly once (into a staging table or a Parquet file), so a relation with ``random()`` or
a one-shot Arrow reader is never evaluated twice. pandas and polars are recognised only if the
function's module already imported them: assetflow never imports either.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import ACCEPTED_VALUES, OutputError, where
from assetflow.io.warehouse import quote_identifier

# DuckDB's type of a column it could not infer, such as an all-None pandas column.
NULL_TYPE = '"NULL"'


def _dataframe_of(value: object, module: str) -> bool:
    """Whether ``value`` is a DataFrame of ``module`` (pandas, polars) without importing it."""
    loaded = sys.modules.get(module)
    frame = getattr(loaded, "DataFrame", None) if loaded is not None else None
    return isinstance(frame, type) and isinstance(value, frame)


def _type_phrase(value: object) -> str:
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"


def readable(value: object, asset_def: AssetDef, partition_key: str) -> object:
    """``value`` in a form ``DuckDBPyConnection.register`` reads, or OutputError if unsupported."""
    if isinstance(value, duckdb.DuckDBPyRelation):
        return value
    # A pyarrow value means pyarrow is already imported: never pay its import otherwise.
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        if isinstance(value, pa.Table | pa.RecordBatchReader):
            return value
        if isinstance(value, pa.RecordBatch):
            return pa.Table.from_batches([value])
    if _dataframe_of(value, "pandas") or _dataframe_of(value, "polars"):
        return value
    raise OutputError(
        f"{where(asset_def, partition_key)} returned {_type_phrase(value)}; "
        f"expected {ACCEPTED_VALUES}"
    )


@contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, value: object, asset_def: AssetDef, partition_key: str
) -> Iterator[str]:
    """Register ``value`` on ``con`` for the length of the block; yields the quoted name."""
    source = readable(value, asset_def, partition_key)
    name = f"__assetflow_value_{uuid.uuid4().hex}"
    try:
        con.register(name, source)
    except duckdb.InvalidInputException:
        if not isinstance(source, duckdb.DuckDBPyRelation):
            raise
        # A relation of another database (a duckdb.connect() the function made itself) cannot
        # be read on this cursor: stream its rows across through Arrow instead.
        con.register(name, source.to_arrow_reader())
    try:
        yield quote_identifier(name)
    finally:
        con.unregister(name)


def select_list(
    con: duckdb.DuckDBPyConnection, source: str, target: Sequence[tuple[str, str]] | None
) -> str:
    """The SELECT list reading ``source``, typing its all-NULL columns like ``target``'s.

    A column that is None in every row of a DataFrame has no type of its own; taking the stored
    column's type keeps an empty day from looking like a schema change.
    """
    select, _ = source_columns(con, source, lambda: target)
    return select


def source_columns(
    con: duckdb.DuckDBPyConnection,
    source: str,
    stored: Callable[[], Sequence[tuple[str, str]] | None],
) -> tuple[str, list[tuple[str, str]]]:
    """The SELECT list reading ``source`` (as :func:`select_list`) and the ``(column, type)``
    list it yields (a cast column typed as ``stored`` spells it). ``stored`` gives the stored
    columns; it is called only if ``source`` has an all-NULL column (one lookup saved per step
    otherwise)."""
    relation = con.sql(f"SELECT * FROM {source}")
    found = [
        (str(name), str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
    ]
    target_types = dict(stored() or ()) if any(kind == NULL_TYPE for _, kind in found) else {}
    items: list[str] = []
    schema: list[tuple[str, str]] = []
    for name, kind in found:
        column = quote_identifier(name)
        stored_type = target_types.get(name)
        if kind == NULL_TYPE and stored_type is not None:
            items.append(f"CAST({column} AS {stored_type}) AS {column}")
            schema.append((name, stored_type))
        else:
            items.append(column)
            schema.append((name, kind))
    return ", ".join(items), schema
