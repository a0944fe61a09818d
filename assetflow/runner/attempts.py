"""The :class:`~assetflow.runner.events.AttemptEvent` of one attempt, from what the step knows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from assetflow.planner.plan import PlanStep
from assetflow.records import LineageRecord, StepStatus
from assetflow.runner.events import AttemptEvent

__all__ = ["attempt_event"]


def attempt_event(
    run_id: str,
    step: PlanStep,
    attempt: int,
    attempt_id: int,
    lineage: Sequence[LineageRecord],
    at: datetime,
    *,
    status: StepStatus | None = None,
    error: str | None = None,
    row_count: int | None = None,
    schema: tuple[tuple[str, str], ...] | None = None,
) -> AttemptEvent:
    """The event of an attempt starting (no ``status``) or ending; ``reads`` are the upstream
    partitions with a materialization (or observation), which are what the attempt loads."""
    reads: dict[str, list[str]] = {}
    for link in lineage:
        if link.upstream_materialization_id is not None:
            reads.setdefault(link.upstream_asset, []).append(link.upstream_partition)
    return AttemptEvent(
        run_id=run_id,
        asset=step.asset,
        partition=step.partition,
        attempt=attempt,
        attempt_id=attempt_id,
        at=at,
        reads=tuple((asset, tuple(keys)) for asset, keys in reads.items()),
        status=status,
        error=error,
        row_count=row_count,
        schema=schema,
    )
