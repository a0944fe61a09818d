"""What every IO manager shares: the interface, its result, its error, and return-value unwrapping.

An IO manager stores one partition of one asset (``store``) and hands the stored partitions of an
upstream asset to a downstream step as a DuckDB relation (``load``). Both run on the DuckDB cursor
of the step that calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Output
from assetflow.errors import AssetflowError

# The bookkeeping column of every warehouse table: the partition key of each row.
PARTITION_COLUMN = "_partition"

ACCEPTED_VALUES = "a DuckDB relation, pyarrow Table, pandas or polars DataFrame, Output, or None"


class OutputError(AssetflowError):
    """An asset's return value cannot be stored.

    Its type is not supported, its schema differs from the partitions already stored, or it uses
    a reserved column name. The message names the asset and the partition.
    """


@dataclass(frozen=True)
class StoredOutput:
    """What storing one partition produced.

    ``data_version`` is the content fingerprint (or the one the function gave with
    :class:`~assetflow.definitions.context.Output`); it and ``row_count`` are ``None`` when
    nothing was stored. ``schema`` is the ``(column, type)`` list of what was stored, when the
    IO manager knows it.
    """

    data_version: str | None
    row_count: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Not compared: equality stays what it was (data version, row count, metadata).
    schema: tuple[tuple[str, str], ...] | None = field(default=None, compare=False)


class IOManager(Protocol):
    """Stores the partitions of an asset and loads them for downstream steps."""

    kind: str

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """The stored rows of exactly ``partitions`` as a relation on ``con``, or ``None``."""
        ...

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Store ``value`` as partition ``partition_key`` of the asset, replacing what was there."""
        ...


@dataclass(frozen=True)
class Unwrapped:
    """A return value with :class:`~assetflow.definitions.context.Output` taken apart."""

    value: object
    data_version: str | None
    metadata: dict[str, Any]


def unwrap(value: object) -> Unwrapped:
    """Split an :class:`~assetflow.definitions.context.Output` into its value, data version
    and metadata."""
    if isinstance(value, Output):
        metadata: Mapping[str, Any] = value.metadata or {}
        return Unwrapped(value.value, value.data_version, dict(metadata))
    return Unwrapped(value, None, {})


def where(asset_def: AssetDef, partition_key: str) -> str:
    """``asset 'x' partition 'p'``: how every storage error starts."""
    return f"asset '{asset_def.name}' partition '{partition_key}'"


def unique_keys(partitions: Sequence[str]) -> list[str]:
    """The keys without repeats, in their first order (a mapping may name a key twice)."""
    return list(dict.fromkeys(partitions))


def schema_difference(stored: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> str:
    """A short description of how two ``(column, type)`` lists differ, naming the columns."""
    stored_types, new_types = dict(stored), dict(new)
    parts: list[str] = []
    added = [name for name in new_types if name not in stored_types]
    missing = [name for name in stored_types if name not in new_types]
    changed = [
        f"{name} {stored_types[name]} -> {new_types[name]}"
        for name in new_types
        if name in stored_types and stored_types[name] != new_types[name]
    ]
    if added:
        parts.append("new column(s) " + ", ".join(added))
    if missing:
        parts.append("missing column(s) " + ", ".join(missing))
    if changed:
        parts.append("changed type(s) " + ", ".join(changed))
    if not parts:
        order = ", ".join(name for name, _ in new)
        parts.append(f"column order changed to ({order})")
    return "; ".join(parts)
