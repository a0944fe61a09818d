"""Where asset values go and how downstream steps get them back.

- :class:`Warehouse`: the run's DuckDB connection to the project's warehouse file.
- :func:`io_manager_for`: the IO manager of an asset, by its ``io``: ``duckdb`` (a warehouse table
  per asset, rows tagged with ``_partition``), ``parquet`` (a file per partition), ``none``,
  or ``dbt`` (the relation dbt builds).
- :func:`fingerprint`: the order-independent data version of any relation.
- :func:`~assetflow.io.sql.run_sql_asset` (in :mod:`assetflow.io.sql`): run a SQL asset.
"""

from __future__ import annotations

import os

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import (
    PARTITION_COLUMN,
    IOManager,
    OutputError,
    StoredOutput,
)
from assetflow.io.dbt_io import DbtIOManager
from assetflow.io.duckdb_io import DuckDBIOManager
from assetflow.io.fingerprint import Fingerprint, fingerprint
from assetflow.io.none_io import NoneIOManager
from assetflow.io.parquet_io import ParquetIOManager, partition_file_name, partition_key_of
from assetflow.io.warehouse import Warehouse

__all__ = [
    "PARTITION_COLUMN",
    "DbtIOManager",
    "DuckDBIOManager",
    "Fingerprint",
    "IOManager",
    "NoneIOManager",
    "OutputError",
    "ParquetIOManager",
    "StoredOutput",
    "Warehouse",
    "fingerprint",
    "io_manager_for",
    "partition_file_name",
    "partition_key_of",
]


def io_manager_for(
    asset_def: AssetDef, *, warehouse: Warehouse, data_dir: str | os.PathLike[str]
) -> IOManager:
    """The IO manager that stores ``asset_def``'s values, chosen by its ``io``.

    Managers are cheap and stateless (their locks live with the process), so asking again for
    every step is fine.
    """
    if asset_def.io == "duckdb":
        return DuckDBIOManager(warehouse)
    if asset_def.io == "parquet":
        return ParquetIOManager(data_dir)
    if asset_def.io == "none":
        return NoneIOManager()
    if asset_def.io == "dbt":
        return DbtIOManager(warehouse)
    raise OutputError(f"asset '{asset_def.name}': unknown io {asset_def.io!r}")
