"""The current-status cache (``partition_status``) and the planner's snapshot built from it.

One rule, applied two ways: a partition's last success and last attempt are the rows with the
greatest ``(ended_at, id)``. :func:`update_status` applies it to the cached rows plus a new
batch as the batch is appended; :func:`history_status_sql` applies it to the whole append-only
``materializations`` table. Tests hold the two equal. The rule depends only on the rows, not on
the order in which batches reached the file, so concurrent writers cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from assetflow.records import InputVersion, LastSuccess, PartitionState, StepStatus
from assetflow.store.codec import Columns, utc

__all__ = [
    "STATUS_COLUMNS",
    "StatusRow",
    "build_snapshot",
    "flag_changed_inputs",
    "history_status_sql",
    "read_lineage_inputs",
    "recompute_changed_inputs",
    "update_status",
]

STATUS_COLUMNS: Columns = (
    ("asset", "VARCHAR"),
    ("partition", "VARCHAR"),
    ("last_success_id", "BIGINT"),
    ("last_success_code_version", "VARCHAR"),
    ("last_success_data_version", "VARCHAR"),
    ("last_success_at", "TIMESTAMPTZ"),
    ("last_attempt_id", "BIGINT"),
    ("last_attempt_status", "VARCHAR"),
    ("last_attempt_at", "TIMESTAMPTZ"),
    ("last_error", "VARCHAR"),
    ("last_success_inputs_version", "VARCHAR"),
    ("inputs_changed", "BOOLEAN"),
)
_STATUS_NAMES = ", ".join(name for name, _ in STATUS_COLUMNS)

# partition_status rows from a CTE named ``attempts`` of successes and failures with columns
# (id, asset, partition, status, ended_at, code_version, data_version, error, whole,
# inputs_version, inputs_changed); only ``whole`` rows carry a success's versions and may be
# picked as the last success.
_LATEST_SQL = """
SELECT asset, partition, s.id, s.code_version, s.data_version, s.ended_at,
       a.id, a.status, a.ended_at, CASE WHEN a.status = 'failed' THEN a.error END,
       s.inputs_version, coalesce(s.inputs_changed, false)
FROM (
    SELECT asset, partition,
        arg_max({'id': id, 'code_version': code_version, 'data_version': data_version,
                 'ended_at': ended_at, 'inputs_version': inputs_version,
                 'inputs_changed': inputs_changed}, (ended_at, id))
            FILTER (WHERE status = 'success' AND whole) AS s,
        arg_max({'id': id, 'status': status, 'ended_at': ended_at, 'error': error},
                (ended_at, id)) AS a
    FROM attempts GROUP BY asset, partition
)
"""

# Source observations (see store.observations) count as attempts of the source partition:
# present ones as successes, absent ones with status 'absent'.
_HISTORY_ATTEMPTS = """
WITH attempts AS (
    SELECT * FROM (
        SELECT id, asset, partition, status, ended_at, code_version, data_version, error,
               true AS whole, inputs_version, false AS inputs_changed
        FROM materializations WHERE status IN ('success', 'failed')
        UNION ALL
        {observations}
    ) WHERE true {where}
)
"""

# The cached rows of the batch's partitions stand in for all earlier history: the latest of
# (cache + batch) is the latest of everything.
_BATCH_ATTEMPTS = """
WITH keys AS (SELECT DISTINCT asset, partition FROM {batch} WHERE status <> 'skipped'),
attempts AS (
    SELECT id, asset, partition, status, ended_at, code_version, data_version, error,
           true AS whole, inputs_version, false AS inputs_changed
    FROM {batch} WHERE status IN ('success', 'failed', 'absent')
    UNION ALL
    SELECT last_success_id, asset, partition, 'success', last_success_at,
           last_success_code_version, last_success_data_version, NULL, true,
           last_success_inputs_version, inputs_changed
    FROM partition_status JOIN keys USING (asset, partition)
    WHERE last_success_id IS NOT NULL
    UNION ALL
    SELECT last_attempt_id, asset, partition, last_attempt_status, last_attempt_at,
           NULL, NULL, last_error, false, NULL, NULL
    FROM partition_status JOIN keys USING (asset, partition)
)
"""


def history_status_sql(where: str = "") -> str:
    """A query of partition_status rows recomputed from history; ``where`` ANDs a filter."""
    from assetflow.store.observations import HISTORY_ATTEMPTS

    return _HISTORY_ATTEMPTS.format(where=where, observations=HISTORY_ATTEMPTS) + _LATEST_SQL


def update_status(connection: duckdb.DuckDBPyConnection, batch: str) -> None:
    """Fold the attempts in table ``batch`` (shaped like materializations) into the cache.

    Runs inside the caller's transaction; skipped steps change nothing.
    """
    connection.execute(
        f"INSERT OR REPLACE INTO partition_status ({_STATUS_NAMES}) "
        + _BATCH_ATTEMPTS.format(batch=batch)
        + _LATEST_SQL
    )


# Successes that read an upstream partition at another data version than its last success
# has now (early cutoff: the same version is no change). ``{scope}`` narrows the readers.
_CHANGED_READERS = """
UPDATE partition_status SET inputs_changed = true
FROM (
    SELECT DISTINCT l.materialization_id AS id
    FROM {scope}
    LEFT JOIN partition_status up
        ON up.asset = l.upstream_asset AND up.partition = l.upstream_partition
    WHERE l.upstream_data_version IS DISTINCT FROM up.last_success_data_version
) changed
WHERE partition_status.last_success_id = changed.id AND NOT partition_status.inputs_changed
"""


def flag_changed_inputs(connection: duckdb.DuckDBPyConnection, batch: str) -> None:
    """Mark the partitions whose inputs changed with the successes in table ``batch``.

    Run after the batch is folded into the cache and its lineage inserted. Two kinds of reader
    turn "changed": those that read a partition whose new last success is in the batch, at
    another version; and the batch's own successes whose inputs were superseded before the
    batch landed (another run). The flag is sticky (only a new success clears it), so it may
    stay set when an upstream returns to the version read: screening over-approximates, and
    the exact evaluation of the flagged partition says fresh.
    """
    connection.execute(
        _CHANGED_READERS.format(
            scope=f"""
            (SELECT asset, partition FROM partition_status
             WHERE last_success_id IN (SELECT id FROM {batch} WHERE status = 'success')) n
            JOIN lineage l ON l.upstream_asset = n.asset AND l.upstream_partition = n.partition
            """
        )
    )
    connection.execute(
        _CHANGED_READERS.format(
            scope=f"""
            lineage l SEMI JOIN {batch} b ON b.id = l.materialization_id
            """
        )
    )


def recompute_changed_inputs(connection: duckdb.DuckDBPyConnection) -> None:
    """Set ``inputs_changed`` exactly from history (after a rebuild or a migration)."""
    connection.execute("UPDATE partition_status SET inputs_changed = false")
    connection.execute(
        _CHANGED_READERS.format(
            scope="lineage l SEMI JOIN partition_status d "
            "ON d.last_success_id = l.materialization_id"
        )
    )


@dataclass(frozen=True)
class StatusRow:
    """One ``partition_status`` row: the last success and the last attempt of a partition."""

    asset: str
    partition: str
    last_success_id: int | None
    last_success_code_version: str | None
    last_success_data_version: str | None
    last_success_at: datetime | None
    last_attempt_id: int
    last_attempt_status: str
    last_attempt_at: datetime
    last_error: str | None
    last_success_inputs_version: str | None = None
    inputs_changed: bool = False

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StatusRow:
        """From a row selected in :data:`STATUS_COLUMNS` order."""
        return cls(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            None if row[5] is None else utc(row[5]),
            row[6],
            row[7],
            utc(row[8]),
            row[9],
            row[10],
            bool(row[11]),
        )


def read_lineage_inputs(
    connection: duckdb.DuckDBPyConnection, ids_query: str, parameters: Sequence[object] = ()
) -> dict[int, tuple[InputVersion, ...]]:
    """What each materialization ``ids_query`` selects read, sorted by upstream key.

    One query: ``ids_query`` (a SELECT of one id column, with ``parameters``) is joined in
    DuckDB rather than bound as a long list of ids.
    """
    rows = connection.execute(
        f"""
        SELECT materialization_id, upstream_asset, upstream_partition, upstream_data_version,
               upstream_materialization_id
        FROM lineage WHERE materialization_id IN ({ids_query})
        ORDER BY materialization_id, upstream_asset, upstream_partition
        """,
        list(parameters),
    ).fetchall()
    inputs: dict[int, list[InputVersion]] = {}
    for mid, asset, partition, data_version, upstream_id in rows:
        inputs.setdefault(mid, []).append(InputVersion(asset, partition, data_version, upstream_id))
    return {mid: tuple(versions) for mid, versions in inputs.items()}


def build_snapshot(
    rows: Iterable[StatusRow], inputs: dict[int, tuple[InputVersion, ...]]
) -> dict[tuple[str, str], PartitionState]:
    """The planner's view of ``rows`` (``running_in`` is left to the runner for now)."""
    snapshot: dict[tuple[str, str], PartitionState] = {}
    for row in rows:
        last_success = None
        if row.last_success_id is not None and row.last_success_at is not None:
            last_success = LastSuccess(
                materialization_id=row.last_success_id,
                code_version=row.last_success_code_version or "",
                data_version=row.last_success_data_version,
                ended_at=row.last_success_at,
                inputs=inputs.get(row.last_success_id, ()),
            )
        # The last attempt is never older than the last success, so a failed last attempt
        # is a failure after it (and an absent source partition went after it was there).
        failed = row.last_attempt_status == StepStatus.FAILED
        snapshot[(row.asset, row.partition)] = PartitionState(
            last_success=last_success,
            latest_failed=failed,
            latest_error=row.last_error if failed else None,
            absent=row.last_attempt_status == "absent",
        )
    return snapshot
