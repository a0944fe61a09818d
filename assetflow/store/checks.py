"""The ``check_results`` table: rows in, latest results out (functions over a connection)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from assetflow.records import CheckRecord
from assetflow.store.codec import Columns, dump_json, insert_rows, load_json, utc

__all__ = ["CHECK_COLUMNS", "check_row", "failing_checks", "insert_checks", "latest_checks"]

CHECK_COLUMNS: Columns = (
    ("asset", "VARCHAR"),
    ("partition", "VARCHAR"),
    ("check_name", "VARCHAR"),
    ("blocking", "BOOLEAN"),
    ("passed", "BOOLEAN"),
    ("checked_at", "TIMESTAMPTZ"),
    ("materialization_id", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("metadata", "JSON"),
    ("error", "VARCHAR"),
    ("description", "VARCHAR"),
)
_NAMES = ", ".join(name for name, _ in CHECK_COLUMNS)


def check_row(record: CheckRecord) -> tuple[Any, ...]:
    """The ``check_results`` row of a record, in column order."""
    return (
        record.asset,
        record.partition,
        record.check_name,
        record.blocking,
        record.passed,
        utc(record.checked_at),
        record.materialization_id,
        record.run_id,
        dump_json(record.metadata),
        record.error,
        record.description,
    )


def _from_row(row: Sequence[Any]) -> CheckRecord:
    (asset, partition, name, blocking, passed, at, mid, run_id, meta, error, description) = row
    return CheckRecord(
        asset=str(asset),
        partition=str(partition),
        check_name=str(name),
        blocking=bool(blocking),
        passed=bool(passed),
        checked_at=at,
        materialization_id=None if mid is None else int(mid),
        run_id=None if run_id is None else str(run_id),
        metadata=load_json(meta),
        error=None if error is None else str(error),
        description=str(description or ""),
    )


def insert_checks(connection: duckdb.DuckDBPyConnection, records: Sequence[CheckRecord]) -> None:
    insert_rows(connection, "check_results", CHECK_COLUMNS, [check_row(r) for r in records])


def _asset_filter(assets: Iterable[str] | None) -> tuple[str, list[Any]]:
    if assets is None:
        return "", []
    return "WHERE asset IN (SELECT UNNEST(?::VARCHAR[]))", [sorted(set(assets))]


def latest_checks(
    connection: duckdb.DuckDBPyConnection, assets: Iterable[str] | None = None
) -> list[CheckRecord]:
    """Each (asset, check)'s most recent result over all partitions, by asset and name."""
    where, params = _asset_filter(assets)
    rows = connection.execute(
        f"""
        SELECT {_NAMES} FROM check_results {where}
        QUALIFY row_number() OVER (
            PARTITION BY asset, check_name ORDER BY checked_at DESC, partition DESC) = 1
        ORDER BY asset, check_name
        """,
        params,
    ).fetchall()
    return [_from_row(row) for row in rows]


def failing_checks(
    connection: duckdb.DuckDBPyConnection, assets: Iterable[str] | None = None
) -> list[CheckRecord]:
    """The failed checks on the data each partition holds now: the results recorded for
    its last success (in its step, or later by ``assetflow check``), the latest per check."""
    where, params = _asset_filter(assets)
    rows = connection.execute(
        f"""
        WITH current AS (
            SELECT c.* FROM check_results c
            JOIN partition_status s
              ON s.asset = c.asset AND s.partition = c.partition
             AND s.last_success_id = c.materialization_id
            {where.replace("asset", "c.asset", 1)}
            QUALIFY row_number() OVER (
                PARTITION BY c.asset, c.partition, c.check_name ORDER BY c.checked_at DESC) = 1
        )
        SELECT {_NAMES} FROM current WHERE NOT passed ORDER BY asset, partition, check_name
        """,
        params,
    ).fetchall()
    return [_from_row(row) for row in rows]
