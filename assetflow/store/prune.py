"""``history prune``: the only delete in assetflow.

Old runs go with their materializations, lineage and logs, except the materializations some
partition's status still rests on (its last success or last attempt) and those ``why`` names as
the cause of its data version (the success that brought it in and the success before it):
pruning never changes a status, a snapshot, or what ``why`` can explain. A run keeps its row
while any of its materializations remain, so no kept materialization points at a missing run.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from assetflow.store.codec import utc

__all__ = ["prune"]


def prune(connection: duckdb.DuckDBPyConnection, before: datetime) -> dict[str, int]:
    """Delete the history of runs that ended before ``before`` (in the caller's transaction)."""
    # Per partition, its last success that changed the data version and the success before it
    # (see assetflow.planner.explain.change_event), in status order (ended_at, id).
    connection.execute(
        """
        CREATE TEMP TABLE why_needs AS
        WITH successes AS (
            SELECT id, asset, partition, ended_at, lag(id) OVER w AS previous,
                   data_version IS DISTINCT FROM lag(data_version) OVER w AS changed
            FROM materializations WHERE status = 'success'
            WINDOW w AS (PARTITION BY asset, partition ORDER BY ended_at, id)
        ), last_change AS (
            SELECT arg_max(id, (ended_at, id)) AS id, arg_max(previous, (ended_at, id)) AS previous
            FROM successes WHERE changed AND previous IS NOT NULL
            GROUP BY asset, partition
        )
        SELECT id FROM last_change UNION ALL SELECT previous FROM last_change
        """
    )
    connection.execute(
        """
        CREATE TEMP TABLE doomed AS
        SELECT m.id FROM materializations m JOIN runs r USING (run_id)
        WHERE r.ended_at < $before
          AND m.id NOT IN (
              SELECT last_success_id FROM partition_status WHERE last_success_id IS NOT NULL
              UNION ALL
              SELECT last_attempt_id FROM partition_status
              UNION ALL
              SELECT id FROM why_needs
          )
        """,
        {"before": utc(before)},
    )
    deleted: dict[str, int] = {}
    for table, column in (
        ("logs", "materialization_id"),
        ("lineage", "materialization_id"),
        ("check_results", "materialization_id"),
    ):
        deleted[table] = _count(
            connection.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM doomed)")
        )
    deleted["materializations"] = _count(
        connection.execute("DELETE FROM materializations WHERE id IN (SELECT id FROM doomed)")
    )
    deleted["runs"] = _count(
        connection.execute(
            """
            DELETE FROM runs WHERE ended_at < $before
              AND run_id NOT IN (SELECT DISTINCT run_id FROM materializations)
            """,
            {"before": utc(before)},
        )
    )
    connection.execute("DROP TABLE doomed")
    connection.execute("DROP TABLE why_needs")
    return deleted


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return 0 if row is None else int(row[0])
