"""What an alert is about: :class:`AlertEvent`, plain frozen data, and the pure functions that
make one from a run result, a freshness violation or its recovery.

Dedup keys name the thing an event is about, so that a sink like PagerDuty folds repeats into
one incident and a ``recovered`` event resolves the incident its ``freshness`` event opened:
``assetflow/PROJECT/freshness/ASSET[PARTITION]`` (``ASSET`` alone when unpartitioned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from assetflow.runner.results import RunResult, StepResult

__all__ = [
    "AlertEvent",
    "EventKind",
    "Severity",
    "dedup_key",
    "failure_events",
    "freshness_event",
    "recovered_event",
    "test_event",
]

# A failed asset's alert names at most this many of its failed partitions.
MAX_PARTITIONS_NAMED = 5


class EventKind(StrEnum):
    """What happened; the ``on`` list of an ``[[alerts]]`` sink picks among the first three."""

    FAILURE = "failure"
    FRESHNESS = "freshness"
    RECOVERED = "recovered"
    TEST = "test"


class Severity(StrEnum):
    """PagerDuty's severities (the ones assetflow uses)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class AlertEvent:
    """One thing to tell the sinks about (every sink gets the same event).

    ``partition`` is ``None`` for an unpartitioned asset, or when the event covers several
    partitions (``detail`` lists them); ``run_id`` is set for failures.
    """

    kind: EventKind
    project: str
    summary: str
    severity: Severity
    dedup_key: str
    at: datetime
    asset: str | None = None
    partition: str | None = None
    run_id: str | None = None
    detail: str | None = None

    @property
    def target(self) -> str | None:
        """``asset[partition]``, ``asset``, or ``None``."""
        if self.asset is None:
            return None
        return self.asset if self.partition is None else f"{self.asset}[{self.partition}]"


def dedup_key(project: str, kind: str, asset: str, partition: str | None = None) -> str:
    """The key of what an event is about: one per (project, kind, asset, partition)."""
    node = asset if partition in (None, "-") else f"{asset}[{partition}]"
    return f"assetflow/{project}/{kind}/{node}"


def failure_events(project: str, result: RunResult, at: datetime) -> list[AlertEvent]:
    """One ``failure`` event per asset with failed steps in ``result`` (none if nothing failed).

    Grouped by asset so that a backfill failing a thousand partitions sends one alert, not a
    thousand; an asset with exactly one failed partition gets that partition's dedup key.
    """
    by_asset: dict[str, list[StepResult]] = {}
    for step in result.failed:
        by_asset.setdefault(step.asset, []).append(step)
    events = []
    for asset, steps in by_asset.items():
        single = steps[0].partition if len(steps) == 1 else None
        partition = None if single in (None, "-") else single
        first_error = _first_line(steps[0].error) or "error"
        if len(steps) == 1:
            what = steps[0].name
        else:
            named = ", ".join(s.partition for s in steps[:MAX_PARTITIONS_NAMED])
            more = len(steps) - MAX_PARTITIONS_NAMED
            extra = f" and {more} more" if more > 0 else ""
            what = f"{asset} ({len(steps)} partitions: {named}{extra})"
        events.append(
            AlertEvent(
                kind=EventKind.FAILURE,
                project=project,
                summary=f"{what} failed in run {result.run_id}: {first_error}",
                severity=Severity.ERROR,
                dedup_key=dedup_key(project, "failure", asset, single),
                at=at,
                asset=asset,
                partition=partition,
                run_id=result.run_id,
                detail=steps[0].error,
            )
        )
    return events


def freshness_event(
    project: str, asset: str, partition: str | None, detail: str, at: datetime
) -> AlertEvent:
    """A freshness violation of ``asset`` (its latest due ``partition``, if partitioned)."""
    node = asset if partition is None else f"{asset}[{partition}]"
    return AlertEvent(
        kind=EventKind.FRESHNESS,
        project=project,
        summary=f"{node} is overdue: {detail}",
        severity=Severity.WARNING,
        dedup_key=dedup_key(project, "freshness", asset, partition),
        at=at,
        asset=asset,
        partition=partition,
        detail=detail,
    )


def recovered_event(
    project: str, asset: str, partition: str | None, detail: str, at: datetime
) -> AlertEvent:
    """The freshness violation of ``asset``/``partition`` cleared (same dedup key as it)."""
    node = asset if partition is None else f"{asset}[{partition}]"
    return AlertEvent(
        kind=EventKind.RECOVERED,
        project=project,
        summary=f"{node} recovered: {detail}",
        severity=Severity.INFO,
        dedup_key=dedup_key(project, "freshness", asset, partition),
        at=at,
        asset=asset,
        partition=partition,
        detail=detail,
    )


def test_event(project: str, at: datetime) -> AlertEvent:
    """What ``assetflow alerts test`` sends."""
    return AlertEvent(
        kind=EventKind.TEST,
        project=project,
        summary=f"test alert from assetflow project {project}",
        severity=Severity.INFO,
        dedup_key=f"assetflow/{project}/test",
        at=at,
    )


test_event.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    # A traceback's last line is the exception; a plain message's first line is itself.
    if lines and lines[0].startswith("Traceback"):
        return lines[-1].strip()
    return lines[0].strip() if lines else None
