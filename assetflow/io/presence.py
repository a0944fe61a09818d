"""Stored data that is gone, found in bulk whenever status or a plan is computed.

A partition recorded as made whose stored data is gone (the warehouse deleted or replaced, a
table dropped, rows deleted, a Parquet file removed) is ``stale`` with reason ``data_missing``,
and ``materialize`` makes it again. The look is cheap and set-based, never one query per
partition: the partitions history says hold data come from the state file as one Arrow table
(as plain rows when there are few: no pyarrow for a small project's status);
the warehouse is attached read-only once, its assetflow tables listed in one query, and the
partition keys of tables up to :data:`PARTITION_CHECK_ROWS` rows read in one grouped query
(bigger tables are only checked to exist: ``assetflow verify`` reads everything); each Parquet
asset's folder is listed once, locally or on the fsspec URL of ``[storage] data`` (a remote
listing that fails, say for want of credentials, skips the look: it cannot tell what is gone).
DuckDB then compares the sets.

When the warehouse is open for writing by another process (a run) it cannot be attached: the
look is skipped for it this time. What ``assetflow verify`` found (changed or gone) is added
from the state file's ``verifications``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from assetflow.config.remote_data import RemoteData
from assetflow.graph.asset_graph import AssetGraph
from assetflow.io.parquet_io import SUFFIX, partition_file_name, partition_key_of
from assetflow.io.warehouse import quote_identifier, sql_string
from assetflow.records import ReasonKind

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


__all__ = ["PARTITION_CHECK_ROWS", "damaged_partitions", "gone_partitions"]

Node = tuple[str, str]
Damage = tuple[ReasonKind, str]


class MadeRecords(Protocol):
    """What presence checks read of history (the state store provides it): the partitions
    recorded as holding data, and the marks ``assetflow verify`` left."""

    def reading_session(self) -> AbstractContextManager[object]: ...

    def made_with_data(self, assets: Sequence[str], rows_if_few: bool = False) -> Any: ...

    def verification_marks(self, assets: Sequence[str]) -> dict[Node, tuple[str, str]]: ...

    def scratch(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


# Up to this many rows (DuckDB's estimate) a table's partition keys are read at every status;
# a bigger table is only checked to exist.
PARTITION_CHECK_ROWS = 5_000_000
# Numbers the warehouse's attachments (see _gone_from_warehouse).
_ATTACHED = itertools.count()
# DuckDB's words when another process (or connection of this one) has the file open.
_BUSY = ("could not set lock", "conflicting lock", "already attached", "file handle conflict")


def damaged_partitions(
    graph: AssetGraph, store: MadeRecords, warehouse: Path, data_dir: Path | RemoteData | None
) -> dict[Node, Damage]:
    """Every partition recorded as made whose stored data is gone (``data_missing``) or that
    ``assetflow verify`` found changed (``data_changed``), with a detail naming what.
    ``data_dir`` None leaves Parquet files unchecked."""
    stored = [name for name in graph.assets if graph[name].io in ("duckdb", "parquet")]
    if not stored:
        return {}
    with store.reading_session():
        made = store.made_with_data(stored, rows_if_few=True)
        verified = store.verification_marks(stored)
        found: dict[Node, Damage] = {
            node: (
                ReasonKind.DATA_CHANGED if result == "changed" else ReasonKind.DATA_MISSING,
                text,
            )
            for node, (result, text) in verified.items()
        }
        with store.scratch() as scratch:  # no DuckDB of its own to open
            gone = gone_partitions(graph, made, warehouse, data_dir, scratch)
    for node, detail in gone.items():
        found[node] = (ReasonKind.DATA_MISSING, detail)
    return found


def gone_partitions(
    graph: AssetGraph,
    made: Any,
    warehouse: Path,
    data_dir: Path | RemoteData | None,
    scratch: duckdb.DuckDBPyConnection | None = None,
) -> dict[Node, str]:
    """Of ``made`` (an Arrow table, or a list of tuples: asset, partition, materialization
    id, data version, row count), the partitions whose stored rows or file are gone, with what
    is gone. The work tables go into ``scratch`` (a connection of the caller's, which keeps
    it open; an in-memory DuckDB of its own without one)."""
    if (len(made) if isinstance(made, list) else made.num_rows) == 0:
        return {}
    if scratch is None:
        with duckdb.connect() as own:
            return gone_partitions(graph, made, warehouse, data_dir, own)
    if isinstance(made, list):
        assets, partitions, _, _, row_counts = zip(*made, strict=True)
        _table_of_lists(
            scratch,
            "made",
            {
                "asset": ("VARCHAR", assets),
                "partition": ("VARCHAR", partitions),
                "row_count": ("BIGINT", row_counts),
            },
        )
    else:
        scratch.register("made", made)
    by_io: dict[str, list[str]] = {"duckdb": [], "parquet": []}
    for name in graph.assets:
        if graph[name].io in by_io:
            by_io[graph[name].io].append(name)
    found = _gone_from_warehouse(scratch, by_io["duckdb"], warehouse)
    if data_dir is not None:
        found.update(_gone_from_folder(scratch, by_io["parquet"], data_dir))
    return found


def _table_of_lists(
    scratch: duckdb.DuckDBPyConnection,
    name: str,
    columns: dict[str, tuple[str, Sequence[object]]],
) -> None:
    """A temporary table ``name`` of equal-length columns, each ``(SQL type, values)``: one
    UNNEST per column in one SELECT, which DuckDB zips (no pyarrow needed)."""
    select = ", ".join(f"UNNEST(?::{kind}[]) AS {column}" for column, (kind, _) in columns.items())
    scratch.execute(
        f"CREATE TEMP TABLE {name} AS SELECT {select}",
        [list(values) for _, values in columns.values()],
    )


def _recorded(scratch: duckdb.DuckDBPyConnection, assets: Sequence[str], rows: str) -> list[str]:
    """The assets among ``assets`` with partitions recorded as holding data."""
    found = scratch.execute(
        f"SELECT DISTINCT asset FROM made WHERE asset IN (SELECT UNNEST(?::VARCHAR[])) AND {rows}",
        [list(assets)],
    ).fetchall()
    return sorted(str(name) for (name,) in found)


def _every(
    scratch: duckdb.DuckDBPyConnection, assets: Sequence[str], rows: str, detail: str
) -> dict[Node, str]:
    """Every recorded partition of ``assets``, each with ``detail`` (``{asset}`` filled in)."""
    found = scratch.execute(
        f"SELECT asset, partition FROM made WHERE asset IN (SELECT UNNEST(?::VARCHAR[])) "
        f"AND {rows}",
        [list(assets)],
    ).fetchall()
    return {(a, p): detail.format(asset=a) for a, p in found}


def _gone_from_warehouse(
    scratch: duckdb.DuckDBPyConnection, assets: Sequence[str], path: Path
) -> dict[Node, str]:
    # A partition stored with no rows leaves nothing to find: only those with rows count.
    rows = "row_count > 0"
    recorded = _recorded(scratch, assets, rows)
    if not recorded:
        return {}
    if not path.exists():
        return _every(
            scratch, recorded, rows, f"its stored data is gone: the warehouse {path} does not exist"
        )
    # Attached to the scratch's database (the state file's, shared by this process's readers
    # of it): under a name of this call's own, detached after.
    stored = f"stored_{os.getpid()}_{next(_ATTACHED)}"
    try:
        scratch.execute(f"ATTACH {sql_string(str(path))} AS {stored} (READ_ONLY)")
    except duckdb.Error as error:
        if any(fragment in str(error).lower() for fragment in _BUSY):
            return {}  # a run has it open now: the next look will tell
        cause = str(error).strip().splitlines()[0]
        return _every(
            scratch,
            recorded,
            rows,
            f"its stored data cannot be read: the warehouse {path} ({cause})",
        )
    try:
        tables = dict(
            scratch.execute(
                "SELECT t.table_name, t.estimated_size FROM duckdb_tables() t "
                "JOIN duckdb_columns() c USING (database_name, schema_name, table_name) "
                f"WHERE t.database_name = '{stored}' AND t.schema_name = 'main' "
                "AND c.column_name = '_partition'"
            ).fetchall()
        )
        absent = [name for name in recorded if name not in tables]
        found = _every(
            scratch,
            absent,
            rows,
            "its stored data is gone: table {asset} is not in the warehouse " + str(path),
        )
        checked = [n for n in recorded if n in tables and tables[n] <= PARTITION_CHECK_ROWS]
        if checked:
            present = " UNION ALL ".join(
                f"SELECT {sql_string(name)} AS asset, _partition AS partition "
                f"FROM {stored}.main.{quote_identifier(name)} GROUP BY _partition"
                for name in checked
            )
            rows_gone = scratch.execute(
                f"SELECT m.asset, m.partition FROM made m ANTI JOIN ({present}) p "
                "ON m.asset = p.asset AND m.partition = p.partition "
                f"WHERE m.asset IN (SELECT UNNEST(?::VARCHAR[])) AND m.{rows}",
                [checked],
            ).fetchall()
            found.update(
                {
                    (a, p): f"its stored data is gone: no rows for it in table {a} of {path}"
                    for a, p in rows_gone
                }
            )
        return found
    finally:
        scratch.execute(f"DETACH {stored}")


def _folder_names(data_dir: Path | RemoteData, asset: str) -> list[str] | None:
    """The file names in an asset's folder (``[]`` when it does not exist); ``None`` when a
    remote folder cannot be listed (no credentials, no network): nothing can be told."""
    if isinstance(data_dir, Path):
        try:
            with os.scandir(data_dir / asset) as entries:
                return [entry.name for entry in entries]
        except OSError:
            return []  # no folder: every partition of it is gone
    from assetflow.io.remote_fs import filesystem_of, listed_names

    try:
        return list(listed_names(filesystem_of(data_dir), data_dir.join(asset)) or ())
    except Exception:
        return None


def _file_of(data_dir: Path | RemoteData, asset: str, partition: str) -> str:
    if isinstance(data_dir, Path):
        return str(data_dir / asset / partition_file_name(partition))
    return data_dir.join(asset, partition_file_name(partition))


def _gone_from_folder(
    scratch: duckdb.DuckDBPyConnection, assets: Sequence[str], data_dir: Path | RemoteData
) -> dict[Node, str]:
    rows = "row_count IS NOT NULL"  # an empty partition is still a file
    recorded = _recorded(scratch, assets, rows)
    if not recorded:
        return {}
    names: list[str] = []
    keys: list[str] = []
    looked: list[str] = []
    for name in recorded:
        listed = _folder_names(data_dir, name)
        if listed is None:
            continue
        looked.append(name)
        for file_name in listed:
            if file_name.endswith(SUFFIX) and not file_name.startswith("."):
                names.append(name)
                keys.append(partition_key_of(file_name))
    if not looked:
        return {}
    _table_of_lists(
        scratch, "present", {"asset": ("VARCHAR", names), "partition": ("VARCHAR", keys)}
    )
    gone = scratch.execute(
        "SELECT m.asset, m.partition FROM made m ANTI JOIN present p "
        "ON m.asset = p.asset AND m.partition = p.partition "
        f"WHERE m.asset IN (SELECT UNNEST(?::VARCHAR[])) AND m.{rows}",
        [looked],
    ).fetchall()
    return {
        (a, p): f"its stored data is gone: {_file_of(data_dir, a, p)} does not exist"
        for a, p in gone
    }
