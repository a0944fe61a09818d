"""The ``schedule_ticks`` table: which schedule ticks a scheduler claimed, and what they did.

A tick is claimed by inserting its row; the primary key ``(schedule, tick)`` makes the claim
exclusive: of two schedulers on one project, the second insert finds the row and claims
nothing, so a tick runs once. The row then records the outcome: ``nothing_to_do``, the run's
status (``success``, ``failed``, ``cancelled``), or ``error`` (the tick could not be planned).
A row left ``claimed`` belongs to a scheduler that is running it, or died while it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from assetflow.store.codec import utc

__all__ = ["TickRecord", "claim_tick", "finish_tick", "last_ticks", "ticks"]

_COLUMNS = "schedule, tick, claimed_at, claimed_by, coalesced, run_id, status, detail"


@dataclass(frozen=True)
class TickRecord:
    """One claimed tick of one schedule."""

    schedule: str
    tick: datetime
    claimed_at: datetime
    claimed_by: str
    coalesced: int
    run_id: str | None
    status: str
    detail: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "schedule": self.schedule,
            "tick": self.tick.isoformat(),
            "claimed_at": self.claimed_at.isoformat(),
            "claimed_by": self.claimed_by,
            "coalesced": self.coalesced,
            "run_id": self.run_id,
            "status": self.status,
            "detail": self.detail,
        }


def _record(row: Sequence[object]) -> TickRecord:
    schedule, tick, claimed_at, claimed_by, coalesced, run_id, status, detail = row
    assert isinstance(tick, datetime) and isinstance(claimed_at, datetime)
    return TickRecord(
        schedule=str(schedule),
        tick=utc(tick),
        claimed_at=utc(claimed_at),
        claimed_by=str(claimed_by),
        coalesced=int(coalesced),  # type: ignore[call-overload]
        run_id=None if run_id is None else str(run_id),
        status=str(status),
        detail=None if detail is None else str(detail),
    )


def claim_tick(
    connection: duckdb.DuckDBPyConnection,
    schedule: str,
    tick: datetime,
    claimed_at: datetime,
    claimed_by: str,
    coalesced: int,
) -> bool:
    """Insert the tick's row unless it exists; returns whether this call claimed it."""
    inserted = connection.execute(
        f"INSERT INTO schedule_ticks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, 'claimed', NULL) "
        "ON CONFLICT DO NOTHING RETURNING schedule",
        [schedule, utc(tick), utc(claimed_at), claimed_by, coalesced],
    ).fetchall()
    return bool(inserted)


def finish_tick(
    connection: duckdb.DuckDBPyConnection,
    schedule: str,
    tick: datetime,
    status: str,
    run_id: str | None,
    detail: str | None,
) -> None:
    """Record what a claimed tick did."""
    connection.execute(
        "UPDATE schedule_ticks SET status = ?, run_id = ?, detail = ? "
        "WHERE schedule = ? AND tick = ?",
        [status, run_id, detail, schedule, utc(tick)],
    )


def last_ticks(connection: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """The latest claimed tick of every schedule that has one."""
    rows = connection.execute(
        "SELECT schedule, max(tick) FROM schedule_ticks GROUP BY schedule"
    ).fetchall()
    return {str(schedule): utc(tick) for schedule, tick in rows}


def ticks(
    connection: duckdb.DuckDBPyConnection, schedule: str | None = None, limit: int = 100
) -> list[TickRecord]:
    """Claimed ticks, newest first (of one schedule, if given)."""
    where, params = ("WHERE schedule = ?", [schedule]) if schedule is not None else ("", [])
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM schedule_ticks {where} ORDER BY tick DESC, schedule LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_record(row) for row in rows]
