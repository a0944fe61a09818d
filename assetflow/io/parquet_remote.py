"""The ``parquet`` IO manager on an fsspec URL (``[storage] data = "s3://bucket/prefix"``).

The layout is the local one (:mod:`assetflow.io.parquet_io`): ``<root>/<asset>/<quoted
key>.parquet``, one object per partition. A partition is written to a local temporary file,
read back to compute its fingerprint, and only then uploaded in one ``put``. Object stores make
an object visible only once its upload completes (a single PUT, or the completion of a
multipart upload for big files), and a PUT replaces the previous object whole: a reader sees the
old partition or the new one, never half a file, and a failure before or during the upload
leaves the old object as it was. Readers get exactly the mapped partitions' objects through
DuckDB over the same fsspec filesystem (:mod:`assetflow.io.remote_fs`).

The schema check against another stored partition is done under this process's lock only: two
processes writing different partitions of one asset with different schemas at the same moment
are not caught (object stores have no rename or lock to make it exact).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from assetflow.config.remote_data import RemoteData
from assetflow.definitions.assets import AssetDef
from assetflow.io.base import StoredOutput, unique_keys, unwrap
from assetflow.io.fingerprint import fingerprint, relation_schema
from assetflow.io.parquet_io import SUFFIX, partition_file_name, schema_error
from assetflow.io.remote_fs import (
    filesystem_of,
    listed_names,
    readable_on,
    storage_failure,
)
from assetflow.io.values import registered, select_list
from assetflow.io.warehouse import sql_string, write_lock

__all__ = ["RemoteParquetIOManager"]


class RemoteParquetIOManager:
    """Stores each partition as the object ``<url>/<asset>/<quoted key>.parquet``."""

    kind = "parquet"

    def __init__(self, remote: RemoteData) -> None:
        self.remote = remote
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (made on first use)."""
        if self._fs is None:
            self._fs = filesystem_of(self.remote)
        return self._fs

    def folder(self, asset_def: AssetDef) -> str:
        """The URL of the folder holding the asset's partition objects."""
        return self.remote.join(asset_def.name)

    def path(self, asset_def: AssetDef, partition_key: str) -> str:
        """The URL of one partition's object."""
        return self.remote.join(asset_def.name, partition_file_name(partition_key))

    def _names(self, asset_def: AssetDef, action: str) -> set[str]:
        folder = self.folder(asset_def)
        try:
            names = listed_names(self.fs, folder)
        except Exception as error:
            raise storage_failure(action, folder, error) from error
        return {name for name in names or () if name.endswith(SUFFIX)}

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """The rows of exactly those partition objects that exist; ``None`` if there are none.

        The folder is listed once (not one request per partition)."""
        names = self._names(asset_def, "list")
        keys = [key for key in unique_keys(partitions) if partition_file_name(key) in names]
        if not keys:
            return None
        readable_on(con, self.fs)
        listed = ", ".join(sql_string(self.path(asset_def, key)) for key in keys)
        return con.sql(f"SELECT * FROM read_parquet([{listed}])")

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Write ``value`` as the partition's object in one upload of the finished file."""
        output = unwrap(value)
        if output.value is None:
            return StoredOutput(output.data_version, None, output.metadata)
        final = self.path(asset_def, partition_key)
        scratch = Path(tempfile.mkdtemp(prefix="assetflow-parquet-"))
        temporary = scratch / partition_file_name(partition_key)
        try:
            sibling = self._sibling(asset_def, partition_key)
            target = relation_schema(self._read_remote(con, sibling)) if sibling else None
            with registered(con, output.value, asset_def, partition_key) as source:
                columns = select_list(con, source, target)
                con.execute(
                    f"COPY (SELECT {columns} FROM {source}) "
                    f"TO {sql_string(str(temporary))} (FORMAT parquet)"
                )
            written = self._read(con, str(temporary))
            content = fingerprint(written)
            schema = relation_schema(written)
            with write_lock("parquet", self.folder(asset_def)):
                # Checked again under the lock: another partition may have been written since.
                sibling = self._sibling(asset_def, partition_key)
                if sibling is not None:
                    stored = relation_schema(self._read_remote(con, sibling))
                    if stored != schema:
                        others = len(self._names(asset_def, "list") - {final.rsplit("/", 1)[1]})
                        raise schema_error(
                            asset_def, partition_key, stored, schema, self.folder(asset_def), others
                        )
                try:
                    self.fs.put_file(str(temporary), final)
                except Exception as error:
                    raise storage_failure("upload", final, error) from error
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return StoredOutput(
            output.data_version or content.data_version,
            content.row_count,
            {"path": final, **output.metadata},
        )

    @staticmethod
    def _read(con: duckdb.DuckDBPyConnection, path: str) -> duckdb.DuckDBPyRelation:
        return con.sql(f"SELECT * FROM read_parquet({sql_string(path)})")

    def _read_remote(self, con: duckdb.DuckDBPyConnection, url: str) -> duckdb.DuckDBPyRelation:
        """An object of the store, read through DuckDB over the fsspec filesystem."""
        readable_on(con, self.fs)
        return self._read(con, url)

    def _sibling(self, asset_def: AssetDef, partition_key: str) -> str | None:
        """Another partition's object URL, whose schema every partition shares; or ``None``."""
        own = partition_file_name(partition_key)
        for name in sorted(self._names(asset_def, "list")):
            if name != own:
                return self.remote.join(asset_def.name, name)
        return None
