"""Queries over the append-only history: runs, their steps, lineage, logs, durations.

Each function takes an open connection and runs one or two queries; :class:`StateStore` opens
and closes the connection around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from assetflow.errors import StateError
from assetflow.records import LineageRecord, LogRecord, MaterializationRecord, RunRecord
from assetflow.store.codec import (
    LINEAGE_COLUMNS,
    LOG_COLUMNS,
    MATERIALIZATION_COLUMNS,
    RUN_COLUMNS,
    lineage_from_row,
    log_from_row,
    materialization_from_row,
    run_from_row,
    select_list,
    utc,
)
from assetflow.store.observations import AS_MATERIALIZATIONS

__all__ = [
    "LineageWalk",
    "LogLine",
    "RunSummary",
    "attempts",
    "downstream_readers",
    "durations",
    "latest_success_id",
    "lineage_of",
    "lineage_walk",
    "logs",
    "materialization",
    "resolve_prefix",
    "run",
    "run_steps",
    "runs",
    "success_history",
]

# How many recent successes an asset's typical duration is taken from.
_DURATION_SAMPLE = 20
# How many candidates an ambiguous prefix error lists.
_CANDIDATES_SHOWN = 5

_M_COLUMNS = select_list(MATERIALIZATION_COLUMNS, "m")


@dataclass(frozen=True)
class RunSummary:
    """A run with the final outcome of its steps counted by status.

    ``counts`` maps ``success`` / ``failed`` / ``skipped`` to the number of (asset, partition)
    steps whose last attempt in this run ended so: a step that failed twice and then succeeded
    counts once, as a success.
    """

    run: RunRecord
    counts: dict[str, int] = field(default_factory=dict)
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class LogLine:
    """One log record with the step attempt that emitted it."""

    run_id: str
    asset: str
    partition: str
    attempt: int
    record: LogRecord


def resolve_prefix(
    connection: duckdb.DuckDBPyConnection, table: str, column: str, prefix: str, noun: str
) -> str | None:
    """The one id in ``table.column`` equal to or starting with ``prefix``, or ``None``.

    Raises :class:`StateError` naming the candidates when the prefix matches several.
    """
    exact = connection.execute(
        f"SELECT {column} FROM {table} WHERE {column} = ?", [prefix]
    ).fetchone()
    if exact is not None:
        return str(exact[0])
    rows = connection.execute(
        f"SELECT {column} FROM {table} WHERE starts_with({column}, ?) ORDER BY {column} LIMIT ?",
        [prefix, _CANDIDATES_SHOWN + 1],
    ).fetchall()
    if len(rows) > 1:
        shown = ", ".join(str(row[0]) for row in rows[:_CANDIDATES_SHOWN])
        more = ", ..." if len(rows) > _CANDIDATES_SHOWN else ""
        raise StateError(f"{noun} id prefix {prefix!r} is ambiguous: matches {shown}{more}")
    return str(rows[0][0]) if rows else None


def run(connection: duckdb.DuckDBPyConnection, id_or_prefix: str) -> RunRecord | None:
    """The run with this id or unique id prefix, or ``None``."""
    run_id = resolve_prefix(connection, "runs", "run_id", id_or_prefix, "run")
    if run_id is None:
        return None
    row = connection.execute(
        f"SELECT {select_list(RUN_COLUMNS)} FROM runs WHERE run_id = ?", [run_id]
    ).fetchone()
    return None if row is None else run_from_row(row)


def runs(
    connection: duckdb.DuckDBPyConnection, limit: int, status: str | None, asset: str | None
) -> list[RunSummary]:
    """The newest ``limit`` runs (optionally with ``status``, or touching ``asset``)."""
    rows = connection.execute(
        f"""
        SELECT {select_list(RUN_COLUMNS)} FROM runs
        WHERE ($status IS NULL OR status = $status)
          AND ($asset IS NULL OR run_id IN (SELECT run_id FROM materializations
                                            WHERE asset = $asset))
        ORDER BY started_at DESC, run_id DESC
        LIMIT $limit
        """,
        {"status": status, "asset": asset, "limit": limit},
    ).fetchall()
    if not rows:
        return []
    run_ids = [row[0] for row in rows]
    counted = connection.execute(
        """
        SELECT run_id, status, count(*) FROM (
            SELECT run_id, status FROM materializations
            WHERE run_id IN (SELECT UNNEST(?::VARCHAR[]))
            QUALIFY row_number() OVER (
                PARTITION BY run_id, asset, partition ORDER BY ended_at DESC, attempt DESC, id DESC
            ) = 1
        ) GROUP BY run_id, status
        """,
        [run_ids],
    ).fetchall()
    counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
    for run_id, step_status, count in counted:
        counts[run_id][step_status] = count
    return [
        RunSummary(
            run_from_row(row),
            counts[row[0]],
            None if row[11] is None else utc(row[11]),
        )
        for row in rows
    ]


def run_steps(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[MaterializationRecord]:
    """Every attempt (and skipped step) of one run, in start order."""
    rows = connection.execute(
        f"SELECT {_M_COLUMNS} FROM materializations m WHERE run_id = ? "
        "ORDER BY started_at, attempt, id",
        [run_id],
    ).fetchall()
    return [materialization_from_row(row) for row in rows]


def attempts(
    connection: duckdb.DuckDBPyConnection, asset: str, partition: str, limit: int
) -> list[MaterializationRecord]:
    """The last ``limit`` attempts (and skipped steps) of one partition, newest first."""
    rows = connection.execute(
        f"SELECT {_M_COLUMNS} FROM materializations m WHERE asset = ? AND partition = ? "
        "ORDER BY started_at DESC, attempt DESC, id DESC LIMIT ?",
        [asset, partition, limit],
    ).fetchall()
    return [materialization_from_row(row) for row in rows]


def materialization(
    connection: duckdb.DuckDBPyConnection, materialization_id: int
) -> MaterializationRecord | None:
    """One materialization by id, or ``None``."""
    row = connection.execute(
        f"SELECT {_M_COLUMNS} FROM materializations m WHERE id = ?", [materialization_id]
    ).fetchone()
    return None if row is None else materialization_from_row(row)


def lineage_of(
    connection: duckdb.DuckDBPyConnection, materialization_id: int
) -> list[LineageRecord]:
    """The lineage rows of one materialization, by upstream asset and partition."""
    rows = connection.execute(
        f"SELECT {select_list(LINEAGE_COLUMNS)} FROM lineage WHERE materialization_id = ? "
        "ORDER BY upstream_asset, upstream_partition",
        [materialization_id],
    ).fetchall()
    return [lineage_from_row(row) for row in rows]


@dataclass(frozen=True)
class LineageWalk:
    """The materializations reached from ``root`` over recorded lineage, and the links
    ``(upstream id, reader id)`` between them (pruned materializations are left out)."""

    root: MaterializationRecord
    nodes: dict[int, MaterializationRecord]
    edges: set[tuple[int, int]]


# One hop of the walk for a whole frontier: each lineage row that links a frontier id to a
# materialization still stored, as (upstream id, reader id, the other end's record).
# What lineage links: materializations, and the observations of sources they read.
_MADE_OR_OBSERVED = f"(SELECT * FROM materializations UNION ALL {AS_MATERIALIZATIONS})"

_HOP_SQL = {
    "upstream": f"""
        SELECT l.upstream_materialization_id, l.materialization_id, {_M_COLUMNS}
        FROM lineage l JOIN {_MADE_OR_OBSERVED} m ON m.id = l.upstream_materialization_id
        WHERE l.materialization_id IN (SELECT UNNEST(?::BIGINT[]))
        """,
    "downstream": f"""
        SELECT l.upstream_materialization_id, l.materialization_id, {_M_COLUMNS}
        FROM lineage l JOIN materializations m ON m.id = l.materialization_id
        WHERE l.upstream_materialization_id IN (SELECT UNNEST(?::BIGINT[]))
        """,
}


def lineage_walk(
    connection: duckdb.DuckDBPyConnection,
    asset: str,
    partition: str,
    directions: Sequence[str],
    depth: int,
) -> LineageWalk | None:
    """The lineage around the latest success of ``asset[partition]`` (``None`` without one),
    up to ``depth`` hops in each of ``directions`` (``upstream``, ``downstream``).

    One query per hop for the whole frontier, so the number of queries depends on the depth
    of the lineage, never on how many materializations it holds.
    """
    row = connection.execute(
        f"SELECT {_M_COLUMNS} FROM partition_status s JOIN {_MADE_OR_OBSERVED} m "
        "ON m.id = s.last_success_id WHERE s.asset = ? AND s.partition = ?",
        [asset, partition],
    ).fetchone()
    if row is None:
        return None
    root = materialization_from_row(row)
    nodes = {root.id: root}
    edges: set[tuple[int, int]] = set()
    for direction in directions:
        frontier = [root.id]
        for _ in range(depth):
            if not frontier:
                break
            found = connection.execute(_HOP_SQL[direction], [frontier]).fetchall()
            frontier = []
            for upstream_id, reader_id, *columns in found:
                edges.add((int(upstream_id), int(reader_id)))
                record = materialization_from_row(columns)
                if record.id not in nodes:
                    nodes[record.id] = record
                    frontier.append(record.id)
    return LineageWalk(root, nodes, edges)


def success_history(
    connection: duckdb.DuckDBPyConnection, asset: str, partition: str, since: int | None
) -> list[MaterializationRecord]:
    """The successes of ``asset[partition]`` in status order ``(ended_at, id)``, from the
    materialization ``since`` on (all of them when it is ``None`` or pruned): what ``why``
    reads to find the event that changed a partition's data version."""
    rows = connection.execute(
        f"""
        SELECT {_M_COLUMNS} FROM materializations m
        LEFT JOIN (SELECT ended_at AS at, id AS since FROM materializations WHERE id = $since) s
            ON true
        WHERE m.asset = $asset AND m.partition = $partition AND m.status = 'success'
          AND (s.since IS NULL OR m.ended_at > s.at OR (m.ended_at = s.at AND m.id >= s.since))
        ORDER BY m.ended_at, m.id
        """,
        {"asset": asset, "partition": partition, "since": since},
    ).fetchall()
    return [materialization_from_row(row) for row in rows]


def downstream_readers(
    connection: duckdb.DuckDBPyConnection, materialization_id: int
) -> list[MaterializationRecord]:
    """The materializations whose lineage says they read ``materialization_id``."""
    rows = connection.execute(
        f"""
        SELECT {_M_COLUMNS} FROM materializations m
        WHERE m.id IN (SELECT materialization_id FROM lineage
                       WHERE upstream_materialization_id = ?)
        ORDER BY m.started_at, m.id
        """,
        [materialization_id],
    ).fetchall()
    return [materialization_from_row(row) for row in rows]


def latest_success_id(
    connection: duckdb.DuckDBPyConnection, asset: str, partition: str
) -> int | None:
    """The last success of ``asset[partition]`` according to the status cache."""
    row = connection.execute(
        "SELECT last_success_id FROM partition_status WHERE asset = ? AND partition = ?",
        [asset, partition],
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def logs(
    connection: duckdb.DuckDBPyConnection,
    asset: str,
    partition: str | None,
    run_id: str | None,
    limit: int | None,
) -> list[LogLine]:
    """Log lines of ``asset``, grouped by attempt in start order; ``limit`` keeps the last."""
    rows = connection.execute(
        f"""
        SELECT m.run_id, m.asset, m.partition, m.attempt, {select_list(LOG_COLUMNS, "l")}
        FROM logs l JOIN materializations m ON m.id = l.materialization_id
        WHERE m.asset = $asset
          AND ($partition IS NULL OR m.partition = $partition)
          AND ($run_id IS NULL OR m.run_id = $run_id)
        ORDER BY m.started_at DESC, m.id DESC, l.seq DESC
        LIMIT $limit
        """,
        {"asset": asset, "partition": partition, "run_id": run_id, "limit": limit},
    ).fetchall()
    # Newest first so that LIMIT keeps the last lines; read back in order.
    return [LogLine(row[0], row[1], row[2], row[3], log_from_row(row[4:])) for row in rows[::-1]]


def durations(connection: duckdb.DuckDBPyConnection, assets: Sequence[str]) -> dict[str, float]:
    """The median duration of each asset's recent successes (assets never run are absent)."""
    if not assets:
        return {}
    rows = connection.execute(
        f"""
        SELECT asset, median(duration_s) FROM (
            SELECT asset, duration_s FROM materializations
            WHERE status = 'success' AND asset IN (SELECT UNNEST(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY asset ORDER BY ended_at DESC)
                <= {_DURATION_SAMPLE}
        ) GROUP BY asset
        """,
        [list(assets)],
    ).fetchall()
    return {str(asset): float(duration) for asset, duration in rows}
