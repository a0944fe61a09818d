"""Freshness alerting: one ``freshness`` alert per violation, one ``recovered`` when it clears.

The planner decides what is overdue (:class:`~assetflow.records.ReasonKind` ``overdue``: an
unpartitioned asset with no success within its ``max_lag``; a time-partitioned asset whose
latest due partition is not done ``max_lag`` after its window ended). Each violation is an
incident in the state store, keyed like its alerts (see :func:`~assetflow.alerts.events.dedup_key`):
opening it is what sends the alert, so checking twice, or from two schedulers at once, alerts
once. An open incident clears when its partition is no longer overdue and, for a partition,
has been materialized (a newer partition becoming the latest does not clear an older one that
is still missing); an asset that lost its policy, or its partition, clears too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.alerts.delivery import RetryPolicy
from assetflow.alerts.dispatch import SentAlert
from assetflow.alerts.events import AlertEvent, dedup_key, freshness_event, recovered_event
from assetflow.alerts.listener import AlertsListener
from assetflow.partitions.core import TimeWindowPartitions
from assetflow.planner.keys import ExistingKeys
from assetflow.records import ReasonKind, utcnow
from assetflow.runner.events import FreshnessEvent, RunListener
from assetflow.store.alerts import IncidentRecord

if TYPE_CHECKING:
    from assetflow.alerts.subject import WatchedSubject
    from assetflow.planner.status import StatusResult

__all__ = ["FreshnessCheck", "Violation", "check_freshness", "freshness_violations"]

Node = tuple[str, str]


@dataclass(frozen=True)
class Violation:
    """An overdue asset (``partition`` is ``None`` for an unpartitioned one) and why."""

    asset: str
    partition: str | None
    detail: str


@dataclass(frozen=True)
class FreshnessCheck:
    """What one check found and did: current violations, events raised, deliveries made."""

    violations: tuple[Violation, ...]
    events: tuple[AlertEvent, ...]
    sent: tuple[SentAlert, ...]


def watched_nodes(project: WatchedSubject, now: datetime) -> list[Node]:
    """The partition each asset with a freshness policy is judged by: ``-`` for an
    unpartitioned asset, the latest due key of a time-partitioned one."""
    existing = ExistingKeys(project.graph, now)
    nodes: list[Node] = []
    for name, definition in project.graph.assets.items():
        if definition.freshness is None:
            continue
        if definition.partitions.kind == "none":
            nodes.append((name, "-"))
        elif isinstance(definition.partitions, TimeWindowPartitions):
            last = existing.last(name)
            if last is not None:
                nodes.append((name, last))
    return nodes


def freshness_violations(project: WatchedSubject, now: datetime | None = None) -> list[Violation]:
    """Every asset whose freshness policy is violated at ``now`` (pure reading)."""
    moment = now or utcnow()
    results = _evaluate(project, watched_nodes(project, moment), moment)
    return [v for v in (_violation(r) for r in results.values()) if v is not None]


def check_freshness(
    project: WatchedSubject,
    now: datetime | None = None,
    *,
    policy: RetryPolicy | None = None,
) -> list[SentAlert]:
    """Evaluate every freshness policy at ``now``, alert new violations and recoveries.

    Returns the deliveries made (empty when nothing changed or no sink listens). Never raises
    because of a delivery; a state file that cannot be read or written raises StateError.
    """
    return list(run_freshness_check(project, now, policy=policy).sent)


def run_freshness_check(
    project: WatchedSubject,
    now: datetime | None = None,
    *,
    policy: RetryPolicy | None = None,
    listeners: RunListener | None = None,
) -> FreshnessCheck:
    """:func:`check_freshness`, reporting the violations and events as well; each new
    violation and recovery is announced to ``listeners`` (the project's, from the scheduler:
    its alerts among them), or else sent to the alert sinks directly."""

    moment = now or utcnow()
    store = project.store
    is_open = store.open_incidents("freshness")
    watched = watched_nodes(project, moment)
    existing = ExistingKeys(project.graph, moment)
    recheck = [
        (i.asset, i.partition or "-")
        for i in is_open
        if i.asset in project.graph
        and project.graph[i.asset].freshness is not None
        and (i.partition is None or existing.contains(i.asset, i.partition))
    ]
    results = _evaluate(project, [*watched, *recheck], moment)
    violations = [v for v in (_violation(results[node]) for node in watched) if v is not None]
    name = project.name
    events: list[AlertEvent] = []
    announced: list[FreshnessEvent] = []
    current = set()
    for violation in violations:
        key = dedup_key(name, "freshness", violation.asset, violation.partition)
        current.add(key)
        incident = IncidentRecord(
            key, "freshness", violation.asset, violation.partition, moment, None, violation.detail
        )
        if store.open_incident(incident):
            events.append(
                freshness_event(
                    name, violation.asset, violation.partition, violation.detail, moment
                )
            )
            announced.append(
                FreshnessEvent(violation.asset, violation.partition, violation.detail, moment)
            )
    for incident in is_open:
        if incident.dedup_key in current:
            continue
        why = _cleared(project, incident, results)
        if why is not None and store.resolve_incident(incident.dedup_key, moment):
            events.append(recovered_event(name, incident.asset, incident.partition, why, moment))
            announced.append(
                FreshnessEvent(incident.asset, incident.partition, why, moment, recovered=True)
            )
    alerts = AlertsListener(project, policy)
    hearing = alerts if listeners is None else listeners
    for event in announced:
        hearing.freshness_violation(event)
    return FreshnessCheck(tuple(violations), tuple(events), tuple(alerts.sent))


def _evaluate(
    project: WatchedSubject, nodes: list[Node], now: datetime
) -> dict[Node, StatusResult]:

    if not nodes:
        return {}
    unique = list(dict.fromkeys(nodes))
    return {result.node: result for result in project.evaluator(now, unique).evaluate(unique)}


def _violation(result: StatusResult) -> Violation | None:
    for reason in result.reasons:
        if reason.kind is ReasonKind.OVERDUE:
            partition = None if result.partition == "-" else result.partition
            return Violation(result.asset, partition, reason.detail)
    return None


def _cleared(
    project: WatchedSubject, incident: IncidentRecord, results: dict[Node, StatusResult]
) -> str | None:
    """Why ``incident`` (not overdue at this check) is over, or None while it is not."""
    graph = project.graph
    if incident.asset not in graph:
        return f"asset {incident.asset} no longer exists"
    if graph[incident.asset].freshness is None:
        return f"asset {incident.asset} no longer has a freshness policy"
    result = results.get((incident.asset, incident.partition or "-"))
    if result is None:
        return "the partition no longer exists"
    if result.last_materialized_at is None:
        return None  # an older partition, still never materialized: still owed
    return f"materialized at {result.last_materialized_at:%Y-%m-%d %H:%M} UTC"
