"""The ``parquet`` IO manager: one Parquet file per partition under ``data/<asset>/``.

A partition is written to a hidden temporary file in the same folder, read back to compute its
fingerprint, flushed to disk, and only then renamed over the partition's file (``os.replace`` is
atomic within one filesystem). A failure or crash at any point before the rename leaves the
previous file as it was.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import (
    OutputError,
    StoredOutput,
    schema_difference,
    unique_keys,
    unwrap,
    where,
)
from assetflow.io.fingerprint import fingerprint, relation_schema
from assetflow.io.values import registered, select_list
from assetflow.io.warehouse import sql_string, write_lock

SUFFIX = ".parquet"


def partition_file_name(partition_key: str) -> str:
    """The file name of a partition: the key percent-encoded, so ``:``, ``|``, ``/`` (and ``%``
    itself) are safe on every filesystem and :func:`partition_key_of` can undo it."""
    return urllib.parse.quote(partition_key, safe="") + SUFFIX


def partition_key_of(file_name: str) -> str:
    """The partition key a file name stands for (the inverse of :func:`partition_file_name`)."""
    return urllib.parse.unquote(file_name.removesuffix(SUFFIX))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory (Windows).
    with contextlib.suppress(OSError):
        _fsync(path)


class ParquetIOManager:
    """Stores each partition as ``<data_dir>/<asset>/<quoted key>.parquet``."""

    kind = "parquet"

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)

    def folder(self, asset_def: AssetDef) -> Path:
        """The folder holding the asset's partition files."""
        return self.data_dir / asset_def.name

    def path(self, asset_def: AssetDef, partition_key: str) -> Path:
        """The file of one partition."""
        return self.folder(asset_def) / partition_file_name(partition_key)

    def load(
        self, asset_def: AssetDef, partitions: Sequence[str], con: duckdb.DuckDBPyConnection
    ) -> duckdb.DuckDBPyRelation | None:
        """The rows of exactly those partition files that exist; ``None`` if there are none."""
        paths = [self.path(asset_def, key) for key in unique_keys(partitions)]
        existing = [path for path in paths if path.is_file()]
        if not existing:
            return None
        listed = ", ".join(sql_string(str(path)) for path in existing)
        return con.sql(f"SELECT * FROM read_parquet([{listed}])")

    def store(
        self,
        asset_def: AssetDef,
        partition_key: str,
        value: object,
        con: duckdb.DuckDBPyConnection,
    ) -> StoredOutput:
        """Write ``value`` as the partition's file, atomically replacing the previous one."""
        output = unwrap(value)
        if output.value is None:
            return StoredOutput(output.data_version, None, output.metadata)
        folder = self.folder(asset_def)
        folder.mkdir(parents=True, exist_ok=True)
        final = self.path(asset_def, partition_key)
        # Left behind only by a process killed mid-write: no one else writes this partition now.
        for stale in folder.glob(f".{final.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        temporary = folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
        try:
            sibling = self._sibling(folder, final)
            target = relation_schema(self._read(con, sibling)) if sibling else None
            with registered(con, output.value, asset_def, partition_key) as source:
                columns = select_list(con, source, target)
                con.execute(
                    f"COPY (SELECT {columns} FROM {source}) "
                    f"TO {sql_string(str(temporary))} (FORMAT parquet)"
                )
            written = self._read(con, temporary)
            content = fingerprint(written)
            schema = relation_schema(written)
            _fsync(temporary)
            with write_lock("parquet", os.path.realpath(folder)):
                # Checked again under the lock: another partition may have been written since.
                sibling = self._sibling(folder, final)
                if sibling is not None:
                    stored = relation_schema(self._read(con, sibling))
                    if stored != schema:
                        own = final.name
                        others = sum(1 for p in folder.glob("*" + SUFFIX) if p.name != own)
                        raise schema_error(asset_def, partition_key, stored, schema, folder, others)
                self._replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return StoredOutput(
            output.data_version or content.data_version,
            content.row_count,
            {"path": str(final), **output.metadata},
            tuple(schema),
        )

    @staticmethod
    def _replace(temporary: Path, final: Path) -> None:
        """Move the finished file into place and make the rename durable."""
        os.replace(temporary, final)
        _fsync_directory(final.parent)

    @staticmethod
    def _read(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
        return con.sql(f"SELECT * FROM read_parquet({sql_string(str(path))})")

    @staticmethod
    def _sibling(folder: Path, final: Path) -> Path | None:
        """Another partition's file, whose schema every partition shares; ``None`` if none."""
        for path in folder.glob("*" + SUFFIX):
            if path.name != final.name:
                return path
        return None


def schema_error(
    asset_def: AssetDef,
    partition_key: str,
    stored: list[tuple[str, str]],
    schema: list[tuple[str, str]],
    folder: object,
    others: int,
) -> OutputError:
    """The error of a partition whose schema differs from the ``others`` stored in ``folder``."""
    return OutputError(
        f"{where(asset_def, partition_key)}: the schema differs from the other stored "
        f"partition files in {folder} ({others} file(s)): "
        f"{schema_difference(stored, schema)}. Keep the schema, or delete {folder} and "
        "materialize every partition again"
    )
