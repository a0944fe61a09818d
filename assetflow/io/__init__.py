"""Where asset values go and how downstream steps get them back.

- :class:`Warehouse`: the run's DuckDB connection to the project's warehouse file.
- :func:`io_manager_for`: the IO manager of an asset, by its ``io``: ``duckdb`` (a warehouse table
  per asset, rows tagged with ``_partition``), ``parquet`` (a file per partition, in a local
  folder or on any fsspec URL), ``none``, or ``dbt`` (the relation dbt builds).
- :func:`fingerprint`: the order-independent data version of any relation.
- :func:`~assetflow.io.sql.run_sql_asset` (in :mod:`assetflow.io.sql`): run a SQL asset.
"""

from __future__ import annotations

import os

from assetflow.config.remote_data import RemoteData
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
from assetflow.io.parquet_remote import RemoteParquetIOManager
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
    "RemoteParquetIOManager",
    "StoredOutput",
    "Warehouse",
    "fingerprint",
    "io_manager_for",
    "partition_file_name",
    "partition_key_of",
]


def io_manager_for(
    asset_def: AssetDef,
    *,
    warehouse: Warehouse | None,
    data_dir: str | os.PathLike[str] | RemoteData,
) -> IOManager:
    """The IO manager that stores ``asset_def``'s values, chosen by its ``io``.

    ``data_dir`` is the parquet root: a local folder, or a :class:`RemoteData` URL.

    Managers are cheap and stateless (their locks live with the process), so asking again for
    every step is fine. ``warehouse`` is None outside the coordinating process of a run (a
    worker process or a Dask worker), which alone holds the warehouse file.
    """
    if asset_def.io in ("duckdb", "dbt"):
        if warehouse is None:
            raise OutputError(
                f"asset '{asset_def.name}' is stored in the DuckDB warehouse, which only the "
                "coordinating process of a run holds"
            )
        return DuckDBIOManager(warehouse) if asset_def.io == "duckdb" else DbtIOManager(warehouse)
    if asset_def.io == "parquet":
        if isinstance(data_dir, RemoteData):
            return RemoteParquetIOManager(data_dir)
        return ParquetIOManager(data_dir)
    if asset_def.io == "none":
        return NoneIOManager()
    raise OutputError(f"asset '{asset_def.name}': unknown io {asset_def.io!r}")
