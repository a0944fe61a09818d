"""Small factories for history records, for the state store tests.

Times are offsets in seconds from one fixed UTC moment, so tests read as timelines.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from assetflow.records import (
    LineageRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
    StepStatus,
    this_host,
)

T0 = datetime(2024, 1, 31, 13, 5, 1, tzinfo=UTC)

_run_numbers = itertools.count(1)
_ids = itertools.count(1_000)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def make_run(
    run_id: str | None = None,
    started: float = 0,
    *,
    status: RunStatus = RunStatus.RUNNING,
    ended: float | None = None,
    arguments: Mapping[str, Any] | None = None,
    backfill_id: str | None = None,
) -> RunRecord:
    """A run record; ids sort like real ones (by start time), with a counter to stay unique."""
    return RunRecord(
        run_id=run_id or f"{at(started):%Y%m%d-%H%M%S}-{next(_run_numbers):06x}",
        kind="materialize",
        selection="*",
        arguments=arguments if arguments is not None else {"workers": 2},
        status=status,
        started_at=at(started),
        ended_at=None if ended is None else at(ended),
        # This process: a "running" run made here is alive (see assetflow.store.liveness).
        host=this_host(),
        pid=os.getpid(),
        version="0.1.0",
        backfill_id=backfill_id,
    )


def make_m(
    run_id: str,
    asset: str,
    partition: str = "",
    status: StepStatus = StepStatus.SUCCESS,
    *,
    start: float = 0,
    end: float | None = None,
    attempt: int = 1,
    code_version: str = "c1",
    data_version: str | None = None,
    error: str | None = None,
    materialization_id: int | None = None,
    **extra: Any,
) -> MaterializationRecord:
    """A materialization; a success gets a data version and a failure an error by default."""
    if status == StepStatus.SUCCESS and data_version is None:
        data_version = f"d-{asset}-{partition}-{start:g}"
    if status == StepStatus.FAILED and error is None:
        error = f"ValueError: {asset}[{partition}] broke"
    if status == StepStatus.SKIPPED:
        attempt = 0
    return MaterializationRecord(
        id=materialization_id if materialization_id is not None else next(_ids),
        run_id=run_id,
        asset=asset,
        partition=partition,
        attempt=attempt,
        status=status,
        started_at=at(start),
        ended_at=at(end if end is not None else start + 1),
        code_version=code_version,
        data_version=data_version,
        error=error,
        **extra,
    )


def reads(m: MaterializationRecord, *upstreams: MaterializationRecord) -> list[LineageRecord]:
    """Lineage rows saying ``m`` read each of ``upstreams``."""
    return [LineageRecord(m.id, u.asset, u.partition, u.id, u.data_version) for u in upstreams]


def log(m: MaterializationRecord, seq: int, message: str, level: str = "INFO") -> LogRecord:
    return LogRecord(m.id, seq, m.started_at + timedelta(milliseconds=seq), level, message, "t")
