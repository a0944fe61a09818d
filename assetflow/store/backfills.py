"""The ``backfills`` table: a tracked, resumable run over a partition range, and its progress."""

from __future__ import annotations

from datetime import datetime

import duckdb

from assetflow.records import BackfillRecord, RunStatus
from assetflow.store.codec import (
    BACKFILL_COLUMNS,
    backfill_from_row,
    backfill_row,
    insert_rows,
    select_list,
    utc,
)
from assetflow.store.history import resolve_prefix

__all__ = ["backfill", "backfills", "create_backfill", "update_backfill"]

_COLUMNS = select_list(BACKFILL_COLUMNS)


def create_backfill(connection: duckdb.DuckDBPyConnection, record: BackfillRecord) -> None:
    """Insert a new backfill row."""
    insert_rows(connection, "backfills", BACKFILL_COLUMNS, [backfill_row(record)])


def update_backfill(
    connection: duckdb.DuckDBPyConnection,
    backfill_id: str,
    at: datetime,
    status: RunStatus | None,
    done: int | None,
    run_id: str | None,
) -> bool:
    """Set what is given and append ``run_id`` (once); returns whether the backfill exists."""
    row = connection.execute(
        """
        UPDATE backfills SET
            status = coalesce($status, status),
            done = coalesce($done, done),
            run_ids = CASE WHEN $run_id IS NULL OR list_contains(run_ids, $run_id) THEN run_ids
                           ELSE list_append(run_ids, $run_id) END,
            updated_at = $at
        WHERE backfill_id = $backfill_id
        """,
        {
            "status": None if status is None else str(status),
            "done": done,
            "run_id": run_id,
            "at": utc(at),
            "backfill_id": backfill_id,
        },
    ).fetchone()
    return row is not None and row[0] > 0


def backfill(connection: duckdb.DuckDBPyConnection, id_or_prefix: str) -> BackfillRecord | None:
    """The backfill with this id or unique id prefix, or ``None``."""
    backfill_id = resolve_prefix(connection, "backfills", "backfill_id", id_or_prefix, "backfill")
    if backfill_id is None:
        return None
    row = connection.execute(
        f"SELECT {_COLUMNS} FROM backfills WHERE backfill_id = ?", [backfill_id]
    ).fetchone()
    return None if row is None else backfill_from_row(row)


def backfills(connection: duckdb.DuckDBPyConnection, limit: int) -> list[BackfillRecord]:
    """The newest ``limit`` backfills, newest first."""
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM backfills ORDER BY created_at DESC, backfill_id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [backfill_from_row(row) for row in rows]
