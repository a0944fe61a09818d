"""The ``none`` IO manager: the function did its own side effect, so nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import StoredOutput, unwrap


class NoneIOManager:
    """Stores nothing and loads nothing; the data version is the one ``Output`` gives, if any."""

    kind = "none"

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """Always ``None``: there is nothing stored to hand downstream."""
        return None

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Ignore the value; keep ``Output``'s data version and metadata."""
        output = unwrap(value)
        return StoredOutput(output.data_version, None, output.metadata)
