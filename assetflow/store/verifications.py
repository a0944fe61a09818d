"""Stored data as history knows it: which partitions hold data, and what `verify` found.

:func:`made_with_data` lists the partitions whose last success stored something (a row count
was recorded: a step that returned ``None`` stored nothing and has nothing to lose), as an Arrow
table, so a status over a million partitions compares them with the warehouse in bulk; up to
:data:`ROWS_WITHOUT_ARROW` of them may come as plain tuples instead, which spares a read
command importing pyarrow (0.1 s of start-up) for a handful of rows.
:func:`marks` reads what ``assetflow verify`` recorded (``verifications``, schema 6) about the
*current* last successes: a mark stops applying once the partition is made again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from assetflow.store.codec import utc

__all__ = ["ROWS_WITHOUT_ARROW", "Verification", "insert", "made_with_data", "marks"]

# Up to this many rows, ``made_with_data(..., rows_if_few=True)`` returns tuples, not Arrow.
ROWS_WITHOUT_ARROW = 20_000


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found for the stored data of one success."""

    asset: str
    partition: str
    materialization_id: int
    verified_at: datetime
    result: str  # "changed", "missing" or "ok"
    data_version: str | None
    detail: str


def made_with_data(
    connection: duckdb.DuckDBPyConnection, assets: Sequence[str], rows_if_few: bool = False
) -> object:
    """A ``pyarrow.Table`` (asset, partition, materialization_id, data_version, row_count) of
    the partitions of ``assets`` whose last success stored data; with ``rows_if_few``, a list
    of such tuples when there are at most :data:`ROWS_WITHOUT_ARROW`."""
    # On a cursor of its own: the connection may still hold another read's result.
    cursor = connection.cursor()
    try:
        if rows_if_few:
            rows = cursor.execute(_MADE_WITH_DATA, [sorted(set(assets))]).fetchmany(
                ROWS_WITHOUT_ARROW + 1
            )
            if len(rows) <= ROWS_WITHOUT_ARROW:
                return rows
            cursor.close()  # its result is unfinished: read again on a new cursor
            cursor = connection.cursor()
        return cursor.sql(_MADE_WITH_DATA, params=[sorted(set(assets))]).to_arrow_table()
    finally:
        cursor.close()


_MADE_WITH_DATA = """
    SELECT ps.asset, ps.partition, ps.last_success_id AS materialization_id,
           m.data_version, m.row_count
    FROM partition_status ps JOIN materializations m ON m.id = ps.last_success_id
    WHERE ps.asset IN (SELECT UNNEST(?::VARCHAR[])) AND m.row_count IS NOT NULL
"""


def marks(
    connection: duckdb.DuckDBPyConnection, assets: Sequence[str]
) -> dict[tuple[str, str], tuple[str, str]]:
    """``(result, detail)`` of the latest verification of each current last success of
    ``assets`` that found its data changed or gone."""
    rows = connection.execute(
        """
        SELECT asset, partition, arg_max(result, verified_at), arg_max(detail, verified_at)
        FROM verifications v
        WHERE asset IN (SELECT UNNEST(?::VARCHAR[]))
          AND materialization_id = (
              SELECT last_success_id FROM partition_status ps
              WHERE ps.asset = v.asset AND ps.partition = v.partition)
        GROUP BY asset, partition
        """,
        [sorted(set(assets))],
    ).fetchall()
    return {(a, p): (str(result), str(detail)) for a, p, result, detail in rows if result != "ok"}


def insert(connection: duckdb.DuckDBPyConnection, found: Sequence[Verification]) -> None:
    """Append verification results."""
    if not found:
        return
    connection.executemany(
        "INSERT INTO verifications VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            [
                v.asset,
                v.partition,
                v.materialization_id,
                utc(v.verified_at),
                v.result,
                v.data_version,
                v.detail,
            ]
            for v in found
        ],
    )
