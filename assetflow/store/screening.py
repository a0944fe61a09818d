"""The status-cache side of screening (see :mod:`assetflow.planner.screen`): one scan of
``partition_status`` finds the partitions with a direct reason to be stale, and snapshots are
read for just the partitions that the planner then evaluates.

The scan joins the cache with the existing keys of each asset (a small build side per
partitions definition, passed as lists) and never reads lineage: ``inputs_changed`` and
``last_success_inputs_version`` were kept up to date as history was written.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from assetflow.partitions import ranges
from assetflow.partitions.keyspace import Layout
from assetflow.planner.screen import AssetScreen, ScreenSpec
from assetflow.records import PartitionState
from assetflow.store.codec import utc
from assetflow.store.key_index import existing_rows
from assetflow.store.status import STATUS_COLUMNS, StatusRow, build_snapshot, read_lineage_inputs

Node = tuple[str, str]

_SCAN = """
WITH assets AS (
    SELECT UNNEST($names) AS asset, UNNEST($groups) AS grp, UNNEST($codes) AS code,
           UNNEST($inputs) AS inputs_version
),
keys AS (SELECT UNNEST($key_groups) AS grp, UNNEST($keys) AS key)
SELECT a.asset, count(*), max(s.last_success_at),
    list(s.partition) FILTER (
        WHERE s.last_success_id IS NULL
           OR s.last_attempt_status IN ('failed', 'absent')
           OR s.inputs_changed
           OR s.last_success_code_version IS DISTINCT FROM a.code
           OR s.last_success_inputs_version IS DISTINCT FROM a.inputs_version
    )
FROM partition_status s
JOIN assets a ON a.asset = s.asset
SEMI JOIN keys k ON k.grp = a.grp AND k.key = s.partition
GROUP BY a.asset
"""


# The same scan for the assets of one group whose keys are numbered in SQL (key_index), and
# the runs of consecutive indexes present (islands) of the assets some keys are absent from.
_LAID_OUT = """
WITH assets AS (
    SELECT UNNEST($names) AS asset, UNNEST($codes) AS code, UNNEST($inputs) AS inputs_version
)
SELECT s.asset, count(*), max(s.last_success_at),
    list(s.partition) FILTER (
        WHERE s.last_success_id IS NULL
           OR s.last_attempt_status IN ('failed', 'absent')
           OR s.inputs_changed
           OR s.last_success_code_version IS DISTINCT FROM a.code
           OR s.last_success_inputs_version IS DISTINCT FROM a.inputs_version
    )
FROM ({rows}) s JOIN assets a ON a.asset = s.asset
GROUP BY s.asset
"""
_ISLANDS = """
SELECT asset, min(idx), max(idx) + 1 FROM (
    SELECT asset, idx, idx - row_number() OVER (PARTITION BY asset ORDER BY idx) AS island
    FROM ({rows})
) GROUP BY asset, island ORDER BY asset, 2
"""


@dataclass(frozen=True)
class Screened:
    """What a scan found: per asset, the existing partitions with a direct reason to be stale
    (missing ones included, except those in ``absent``) and the time of its latest success
    among existing partitions. ``absent``: for assets whose keys are numbered rather than
    listed (see :mod:`assetflow.partitions.keyspace`), the existing partitions never
    attempted, as index ranges."""

    direct: dict[str, list[str]] = field(default_factory=dict)
    last_success_at: dict[str, datetime | None] = field(default_factory=dict)
    running: dict[Node, str] = field(default_factory=dict)  # partitions live runs hold
    absent: dict[str, ranges.Ranges] = field(default_factory=dict)


def scan(connection: duckdb.DuckDBPyConnection, spec: ScreenSpec) -> Screened:
    """Screen every asset of ``spec`` against the status cache: one query over the assets
    whose keys are listed (two if some existing partitions have never been attempted), and one
    or two per group of assets whose keys are numbered."""
    listed = [a for a in spec.assets if spec.layout(a) is None]
    found: dict[str, tuple[int, datetime | None, list[str]]] = {}
    if listed:
        found.update(_scan_listed(connection, spec, listed))
    absent: dict[str, ranges.Ranges] = {}
    for group, layout in enumerate(spec.layouts):
        members = [a for a in spec.assets if a.group == group]
        if layout is not None and members:
            found.update(_scan_laid_out(connection, layout, members, absent))
    direct: dict[str, list[str]] = {}
    last: dict[str, datetime | None] = {}
    incomplete: list[str] = []
    for asset in spec.assets:
        count, at, flagged = found.get(asset.name, (0, None, []))
        last[asset.name] = None if at is None else utc(at)
        direct[asset.name] = list(flagged)
        if count < len(spec.keys(asset)) and spec.layout(asset) is None:
            incomplete.append(asset.name)
    if incomplete:
        _add_missing(connection, spec, incomplete, direct)
    return Screened({name: keys for name, keys in direct.items() if keys}, last, absent=absent)


def _scan_listed(
    connection: duckdb.DuckDBPyConnection, spec: ScreenSpec, assets: list[AssetScreen]
) -> dict[str, tuple[int, datetime | None, list[str]]]:
    key_groups: list[int] = []
    keys: list[str] = []
    for group in sorted({asset.group for asset in assets}):
        group_keys = spec.key_lists[group]
        key_groups.extend([group] * len(group_keys))
        keys.extend(group_keys)
    rows = connection.execute(
        _SCAN,
        {
            "names": [asset.name for asset in assets],
            "groups": [asset.group for asset in assets],
            "codes": [asset.code_version for asset in assets],
            "inputs": [asset.inputs_version for asset in assets],
            "key_groups": key_groups,
            "keys": keys,
        },
    ).fetchall()
    return {asset: (count, at, flagged or []) for asset, count, at, flagged in rows}


def _scan_laid_out(
    connection: duckdb.DuckDBPyConnection,
    layout: Layout,
    assets: list[AssetScreen],
    absent: dict[str, ranges.Ranges],
) -> dict[str, tuple[int, datetime | None, list[str]]]:
    """Screen ``assets`` (sharing ``layout``) with keys numbered in SQL; fills ``absent``."""
    rows_sql, parameters = existing_rows(layout)
    rows = connection.execute(
        _LAID_OUT.format(rows=rows_sql),
        {
            **parameters,
            "names": [asset.name for asset in assets],
            "codes": [asset.code_version for asset in assets],
            "inputs": [asset.inputs_version for asset in assets],
        },
    ).fetchall()
    found = {asset: (count, at, flagged or []) for asset, count, at, flagged in rows}
    incomplete = [a.name for a in assets if found.get(a.name, (0,))[0] < layout.size]
    islands: dict[str, list[tuple[int, int]]] = {name: [] for name in incomplete}
    if any(name in found for name in incomplete):
        query = _ISLANDS.format(rows=rows_sql)
        for asset, lo, hi in connection.execute(
            query, {**parameters, "names": [n for n in incomplete if n in found]}
        ).fetchall():
            islands[asset].append((int(lo), int(hi)))
    for name, present in islands.items():
        absent[name] = ranges.complement(ranges.normalize(present), layout.size)
    return found


def _add_missing(
    connection: duckdb.DuckDBPyConnection,
    spec: ScreenSpec,
    names: list[str],
    direct: dict[str, list[str]],
) -> None:
    """Add the existing partitions of ``names`` that have no status row (never attempted)."""
    present: dict[str, set[str]] = {name: set() for name in names}
    for asset, partition in connection.execute(
        "SELECT asset, partition FROM partition_status WHERE asset IN (SELECT UNNEST(?))",
        [names],
    ).fetchall():
        present[asset].add(partition)
    for asset in spec.assets:
        if asset.name in present:
            seen = present[asset.name]
            direct[asset.name].extend(key for key in spec.keys(asset) if key not in seen)


def snapshot_of(
    connection: duckdb.DuckDBPyConnection, nodes: Collection[Node]
) -> dict[Node, PartitionState]:
    """The planner's snapshot of just ``nodes`` (those ever attempted), inputs included."""
    if not nodes:
        return {}
    assets: list[str] = []
    partitions: list[str] = []
    for asset, partition in nodes:
        assets.append(asset)
        partitions.append(partition)
    names = ", ".join(f"s.{name}" for name, _ in STATUS_COLUMNS)
    rows = [
        StatusRow.from_row(row)
        for row in connection.execute(
            f"SELECT {names} FROM partition_status s JOIN "
            "(SELECT UNNEST(?::VARCHAR[]) AS asset, UNNEST(?::VARCHAR[]) AS partition) w "
            "USING (asset, partition)",
            [assets, partitions],
        ).fetchall()
    ]
    # The ids as a list, not a join: a plain IN list lets DuckDB skip row groups of lineage.
    ids = [row.last_success_id for row in rows if row.last_success_id is not None]
    inputs = read_lineage_inputs(connection, "SELECT UNNEST(?::BIGINT[])", [ids]) if ids else {}
    return build_snapshot(rows, inputs)
