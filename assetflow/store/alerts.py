"""The ``alert_deliveries`` and ``alert_incidents`` tables.

A delivery row is appended for every attempt to tell a sink about an event (delivered or
failed, with attempts, HTTP status and error; the body without secrets). An incident row is a
freshness violation: opened once (so two schedulers checking at once alert once) and resolved
once (so exactly one ``recovered`` alert goes out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from assetflow.store.codec import utc

__all__ = [
    "DeliveryRecord",
    "IncidentRecord",
    "deliveries",
    "open_incident",
    "open_incidents",
    "record_delivery",
    "resolve_incident",
]


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery of one event to one sink."""

    event: str
    sink: str
    created_at: datetime
    finished_at: datetime
    status: str  # 'delivered' or 'failed'
    attempts: int
    dedup_key: str | None = None
    asset: str | None = None
    partition: str | None = None
    run_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    body: dict[str, Any] | None = None
    id: int = 0  # assigned when recorded


@dataclass(frozen=True)
class IncidentRecord:
    """One freshness violation; ``resolved_at`` is ``None`` while it is open."""

    dedup_key: str
    event: str
    asset: str
    partition: str | None
    opened_at: datetime
    resolved_at: datetime | None = None
    detail: str | None = None


_DELIVERY_COLUMNS = (
    "id, event, sink, dedup_key, asset, partition, run_id, created_at, finished_at, status, "
    "attempts, http_status, error, body"
)


def record_delivery(connection: duckdb.DuckDBPyConnection, record: DeliveryRecord) -> int:
    """Append ``record``; returns its id (ids grow in recording order)."""
    (last,) = connection.execute(
        "SELECT coalesce(max(id), 0) FROM alert_deliveries"
    ).fetchone() or (0,)
    new_id = int(last) + 1
    connection.execute(
        f"INSERT INTO alert_deliveries ({_DELIVERY_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            new_id,
            record.event,
            record.sink,
            record.dedup_key,
            record.asset,
            record.partition,
            record.run_id,
            utc(record.created_at),
            utc(record.finished_at),
            record.status,
            record.attempts,
            record.http_status,
            record.error,
            None if record.body is None else json.dumps(record.body),
        ],
    )
    return new_id


def deliveries(
    connection: duckdb.DuckDBPyConnection, limit: int = 100, event: str | None = None
) -> list[DeliveryRecord]:
    """The newest ``limit`` deliveries (of one ``event`` kind, if given), newest first."""
    where = "" if event is None else "WHERE event = ?"
    params: list[Any] = [] if event is None else [event]
    rows = connection.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries {where} ORDER BY id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        DeliveryRecord(
            id=int(row[0]),
            event=row[1],
            sink=row[2],
            dedup_key=row[3],
            asset=row[4],
            partition=row[5],
            run_id=row[6],
            created_at=utc(row[7]),
            finished_at=utc(row[8]),
            status=row[9],
            attempts=int(row[10]),
            http_status=row[11],
            error=row[12],
            body=None if row[13] is None else json.loads(row[13]),
        )
        for row in rows
    ]


def open_incident(connection: duckdb.DuckDBPyConnection, incident: IncidentRecord) -> bool:
    """Open ``incident`` unless one with its dedup key is open; returns whether it opened."""
    found = connection.execute(
        "SELECT 1 FROM alert_incidents WHERE dedup_key = ? AND resolved_at IS NULL",
        [incident.dedup_key],
    ).fetchone()
    if found is not None:
        return False
    connection.execute(
        "INSERT INTO alert_incidents (dedup_key, event, asset, partition, opened_at, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            incident.dedup_key,
            incident.event,
            incident.asset,
            incident.partition,
            utc(incident.opened_at),
            incident.detail,
        ],
    )
    return True


def resolve_incident(connection: duckdb.DuckDBPyConnection, dedup_key: str, at: datetime) -> bool:
    """Resolve the open incident with ``dedup_key``; returns whether one was open."""
    row = connection.execute(
        "UPDATE alert_incidents SET resolved_at = ? WHERE dedup_key = ? AND resolved_at IS NULL",
        [utc(at), dedup_key],
    ).fetchone()
    return row is not None and int(row[0]) > 0


def open_incidents(
    connection: duckdb.DuckDBPyConnection, event: str | None = None
) -> list[IncidentRecord]:
    """The open incidents (of one ``event`` kind, if given), oldest first."""
    where = "" if event is None else "AND event = ?"
    rows = connection.execute(
        "SELECT dedup_key, event, asset, partition, opened_at, resolved_at, detail "
        f"FROM alert_incidents WHERE resolved_at IS NULL {where} ORDER BY opened_at, dedup_key",
        [] if event is None else [event],
    ).fetchall()
    return [
        IncidentRecord(
            dedup_key=row[0],
            event=row[1],
            asset=row[2],
            partition=row[3],
            opened_at=utc(row[4]),
            resolved_at=None,
            detail=row[6],
        )
        for row in rows
    ]
