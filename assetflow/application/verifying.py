"""``assetflow verify``: fingerprint the stored data again and compare it with history.

Every selected partition whose last success stored data (``io="duckdb"`` rows, ``io="parquet"``
files) is read again and fingerprinted the way it was when it was stored (see
:mod:`assetflow.io.fingerprint`). Its result:

- ``ok``: the stored data has the recorded data version;
- ``changed``: it has another one, so something outside assetflow changed it: the partition
  becomes ``stale`` with reason ``data_changed`` (``materialize`` makes it again);
- ``missing``: it is gone: ``stale`` with reason ``data_missing`` (SPEC 11);
- ``unverifiable``: the asset gave its own data version (``Output(data_version=...)``), which
  no fingerprint can confirm.

``changed`` and ``missing`` are recorded in the state file (``verifications``), for the success
they were found in: the mark holds until the partition is made again (or a later ``verify``
finds the data back as it was). A warehouse table's partitions are fingerprinted in one grouped
query; a Parquet file in one query each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from assetflow.config.remote_data import RemoteData
from assetflow.errors import AssetflowError, RunError
from assetflow.io.fingerprint import digest, relation_schema
from assetflow.io.parquet_io import partition_file_name
from assetflow.io.warehouse import (
    lock_holder,
    quote_identifier,
    sql_string,
)
from assetflow.planner.status import short_version
from assetflow.records import utcnow
from assetflow.store.verifications import Verification

if TYPE_CHECKING:
    from assetflow.application.workspace import Workspace

__all__ = ["Verified", "verify"]

# What assetflow's own fingerprints look like; anything else was given by the asset.
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_PARTITION = quote_identifier("_partition")


@dataclass(frozen=True)
class Verified:
    """The outcome for one stored partition (the ``verify --json`` record)."""

    asset: str
    partition: str
    result: str  # ok, changed, missing, unverifiable
    recorded_version: str | None
    stored_version: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "partition": self.partition,
            "result": self.result,
            "recorded_version": self.recorded_version,
            "stored_version": self.stored_version,
            "detail": self.detail,
        }


def verify(
    workspace: Workspace, selection: Sequence[str] | None, exclude: Sequence[str] | None
) -> list[Verified]:
    """Fingerprint the stored partitions of the selected assets again; record what changed."""

    names = workspace.select(list(selection or ()) or None, list(exclude or ()) or None)
    graph = workspace.graph
    stored = [name for name in names if graph[name].io in ("duckdb", "parquet")]
    store = workspace.store
    with store.reading_session():
        made = store.made_with_data(stored).to_pylist() if stored else []  # type: ignore[attr-defined]
        marked = store.verification_marks(stored) if stored else {}
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for row in made:
        by_asset.setdefault(row["asset"], []).append(row)
    config = workspace.config
    versions: dict[tuple[str, str], str | None] = {}
    duckdb_assets = [name for name in by_asset if graph[name].io == "duckdb"]
    if duckdb_assets:
        versions.update(_warehouse_versions(config.warehouse_path, duckdb_assets, by_asset))
    for name in by_asset:
        if graph[name].io == "parquet":
            versions.update(_file_versions(config.data_root, name, by_asset[name]))
    now = utcnow()
    results: list[Verified] = []
    records: list[Verification] = []
    for name in sorted(by_asset):
        for row in sorted(by_asset[name], key=lambda r: str(r["partition"])):
            node = (name, str(row["partition"]))
            found = _judge(row, versions.get(node), node in versions)
            results.append(found)
            if found.result in ("changed", "missing") or (found.result == "ok" and node in marked):
                records.append(
                    Verification(
                        name,
                        node[1],
                        int(row["materialization_id"]),
                        now,
                        found.result,
                        found.stored_version,
                        found.detail,
                    )
                )
    if records:
        store.record_verifications(records)
    return results


def _judge(row: dict[str, Any], stored: str | None, present: bool) -> Verified:
    asset, partition = str(row["asset"]), str(row["partition"])
    recorded = row["data_version"]
    if not present:
        detail = "its stored data is gone (found by assetflow verify)"
        return Verified(asset, partition, "missing", recorded, None, detail)
    if recorded is None or not _FINGERPRINT.fullmatch(str(recorded)):
        detail = "the asset gives its own data version: the stored data cannot confirm it"
        return Verified(asset, partition, "unverifiable", recorded, stored, detail)
    if stored != recorded:
        detail = (
            f"its stored data changed outside assetflow (data version {short_version(recorded)}"
            f" → {short_version(stored)}, found by assetflow verify)"
        )
        return Verified(asset, partition, "changed", recorded, stored, detail)
    return Verified(asset, partition, "ok", recorded, stored, "as recorded")


def _warehouse_versions(
    path: Path, assets: Sequence[str], by_asset: dict[str, list[dict[str, Any]]]
) -> dict[tuple[str, str], str | None]:
    """The data version of every recorded partition found in the warehouse (absent: gone)."""
    if not path.exists():
        return {}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise RunError(
            f"cannot read the warehouse {path} to verify it: {lock_holder(str(error))} has it "
            "open; run verify again when it is free"
            if "lock" in str(error).lower()
            else f"cannot read the warehouse {path} to verify it ({error}); every partition "
            "stored in it shows as data_missing in status"
        ) from error
    try:
        tables = {
            str(name)
            for (name,) in con.sql(
                "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'main' "
                "AND database_name = current_database() AND column_name = '_partition'"
            ).fetchall()
        }
        found: dict[tuple[str, str], str | None] = {}
        for asset in assets:
            if asset not in tables:
                continue
            found.update(_table_versions(con, asset, by_asset[asset]))
        return found
    finally:
        con.close()


def _table_versions(
    con: duckdb.DuckDBPyConnection, asset: str, rows: list[dict[str, Any]]
) -> dict[tuple[str, str], str | None]:
    """One grouped query: each partition's row count and sum of row hashes, as data versions."""
    table = "main." + quote_identifier(asset)
    schema = relation_schema(con.sql(f"SELECT * EXCLUDE ({_PARTITION}) FROM {table} LIMIT 0"))
    columns = ", ".join(quote_identifier(name) for name, _ in schema)
    keys = [str(row["partition"]) for row in rows]
    grouped = con.sql(
        f"SELECT {_PARTITION}, count(*), coalesce(sum(hash({columns})::HUGEINT), 0) "
        f"FROM {table} WHERE {_PARTITION} IN (SELECT UNNEST($keys::VARCHAR[])) "
        f"GROUP BY {_PARTITION}",
        params={"keys": keys},
    ).fetchall()
    found: dict[tuple[str, str], str | None] = {
        (asset, str(key)): digest(schema, int(count), int(total)) for key, count, total in grouped
    }
    for row in rows:  # a partition stored with no rows has no rows to find, and lost nothing
        if row["row_count"] == 0 and (asset, str(row["partition"])) not in found:
            found[(asset, str(row["partition"]))] = digest(schema, 0, 0)
    return found


def _file_versions(
    data_dir: Path | RemoteData, asset: str, rows: list[dict[str, Any]]
) -> dict[tuple[str, str], str | None]:
    """Each recorded partition's file fingerprinted again (absent when the file is gone).

    On an fsspec URL the folder is listed once and each object read through DuckDB over the
    same filesystem; a storage that cannot be reached is an error, not "missing"."""
    from assetflow.io.fingerprint import fingerprint

    found: dict[tuple[str, str], str | None] = {}
    scratch = duckdb.connect()
    try:
        if isinstance(data_dir, Path):
            folder = data_dir / asset
            paths = {
                key: str(folder / partition_file_name(key))
                for key in (str(row["partition"]) for row in rows)
                if (folder / partition_file_name(key)).is_file()
            }
        else:
            paths = _remote_paths(scratch, data_dir, asset, rows)
        for key, path in paths.items():
            try:
                relation = scratch.sql(f"SELECT * FROM read_parquet({sql_string(path)})")
                found[(asset, key)] = fingerprint(relation).data_version
            except duckdb.Error:
                found[(asset, key)] = "unreadable"  # not Parquet any more: changed
    finally:
        scratch.close()
    return found


def _remote_paths(
    scratch: duckdb.DuckDBPyConnection, data: RemoteData, asset: str, rows: list[dict[str, Any]]
) -> dict[str, str]:
    """The URL of each recorded partition whose object exists, readable on ``scratch``."""
    from assetflow.io.remote_fs import filesystem_of, listed_names, readable_on, storage_failure

    folder = data.join(asset)
    try:
        fs = filesystem_of(data)
        names = set(listed_names(fs, folder) or ())
    except AssetflowError:
        raise
    except Exception as error:
        raise storage_failure("list", folder, error) from error
    readable_on(scratch, fs)
    keys = (str(row["partition"]) for row in rows)
    return {
        key: data.join(asset, partition_file_name(key))
        for key in keys
        if partition_file_name(key) in names
    }
