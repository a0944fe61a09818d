"""The ``dbt`` IO manager: the relation dbt builds, read by downstream steps as it is.

dbt writes its relations itself (see :mod:`assetflow.runner.dbt_steps`); storing a dbt asset's
partition only records what the build produced (:class:`DbtBuilt`). Loading reads the whole
relation: dbt tables carry no ``_partition`` column, so a partitioned dbt model is read whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import OutputError, StoredOutput, where
from assetflow.io.warehouse import Warehouse


@dataclass(frozen=True)
class DbtBuilt:
    """What one dbt build of a node produced: the fingerprint of its relation afterwards."""

    data_version: str
    row_count: int | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class DbtIOManager:
    """Reads a dbt node's relation in the warehouse; records what a dbt build made."""

    kind = "dbt"

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """Every row of the node's relation (``None`` if nothing is asked or it is not there)."""
        node = asset_def.dbt
        if node is None:
            raise OutputError(f"asset '{asset_def.name}' is not a dbt node")
        if not partitions:
            return None
        try:  # binding fails at once when the relation is not there
            return con.sql(f"SELECT * FROM {node.relation}")
        except duckdb.CatalogException:
            return None

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Record a dbt build's result; the rows are already where dbt put them."""
        if not isinstance(value, DbtBuilt):
            raise OutputError(
                f"{where(asset_def, partition_key)}: a dbt asset is built by dbt, not returned"
            )
        return StoredOutput(value.data_version, value.row_count, dict(value.metadata))
