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
    "history_status_sql",
    "read_lineage_inputs",
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
)
_STATUS_NAMES = ", ".join(name for name, _ in STATUS_COLUMNS)

# partition_status rows from a CTE named ``attempts`` of successes and failures with columns
# (id, asset, partition, status, ended_at, code_version, data_version, error, whole); only
# ``whole`` rows carry a success's versions and may be picked as the last success.
_LATEST_SQL = """
SELECT asset, partition, s.id, s.code_version, s.data_version, s.ended_at,
       a.id, a.status, a.ended_at, CASE WHEN a.status = 'failed' THEN a.error END
FROM (
    SELECT asset, partition,
        arg_max({'id': id, 'code_version': code_version, 'data_version': data_version,
                 'ended_at': ended_at}, (ended_at, id))
            FILTER (WHERE status = 'success' AND whole) AS s,
        arg_max({'id': id, 'status': status, 'ended_at': ended_at, 'error': error},
                (ended_at, id)) AS a
    FROM attempts GROUP BY asset, partition
)
"""

_HISTORY_ATTEMPTS = """
WITH attempts AS (
    SELECT id, asset, partition, status, ended_at, code_version, data_version, error,
           true AS whole
    FROM materializations WHERE status IN ('success', 'failed') {where}
)
"""

# The cached rows of the batch's partitions stand in for all earlier history: the latest of
# (cache + batch) is the latest of everything.
_BATCH_ATTEMPTS = """
WITH keys AS (SELECT DISTINCT asset, partition FROM {batch} WHERE status <> 'skipped'),
attempts AS (
    SELECT id, asset, partition, status, ended_at, code_version, data_version, error,
           true AS whole
    FROM {batch} WHERE status IN ('success', 'failed')
    UNION ALL
    SELECT last_success_id, asset, partition, 'success', last_success_at,
           last_success_code_version, last_success_data_version, NULL, true
    FROM partition_status JOIN keys USING (asset, partition)
    WHERE last_success_id IS NOT NULL
    UNION ALL
    SELECT last_attempt_id, asset, partition, last_attempt_status, last_attempt_at,
           NULL, NULL, last_error, false
    FROM partition_status JOIN keys USING (asset, partition)
)
"""


def history_status_sql(where: str = "") -> str:
    """A query of partition_status rows recomputed from history; ``where`` ANDs a filter."""
    return _HISTORY_ATTEMPTS.format(where=where) + _LATEST_SQL


def update_status(connection: duckdb.DuckDBPyConnection, batch: str) -> None:
    """Fold the attempts in table ``batch`` (shaped like materializations) into the cache.

    Runs inside the caller's transaction; skipped steps change nothing.
    """
    connection.execute(
        f"INSERT OR REPLACE INTO partition_status ({_STATUS_NAMES}) "
        + _BATCH_ATTEMPTS.format(batch=batch)
        + _LATEST_SQL
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
        # is a failure after it.
        failed = row.last_attempt_status == StepStatus.FAILED
        snapshot[(row.asset, row.partition)] = PartitionState(
            last_success=last_success,
            latest_failed=failed,
            latest_error=row.last_error if failed else None,
        )
    return snapshot
