"""Eager automation: which partitions of ``automation="eager"`` assets to materialize now.

The rule, evaluated by the scheduler on every evaluation (pure over a status evaluator):

- a partition of an eager asset is **triggered** when it is ``stale`` because an upstream
  partition changed (reasons ``upstream_changed``, ``upstream_added``, ``upstream_removed``,
  ``source_changed``), or when it is ``missing`` and reads at least one upstream partition.
  Sources are observed first (see :mod:`assetflow.application.observing`), so an eager asset
  reading a source is a sensor: it runs when its file lands (no longer ``waiting``) or changes;
- and it **runs** only once everything it reads is ready: each upstream partition is ``fresh``
  (an ``overdue`` upstream counts as fresh here: its data is what there is), or is itself run by
  this same automation run (a chain of missing days of a self-dependent asset runs in one go).

So an eager asset waits while its upstream is missing, failed, running or stale, and follows
as soon as the upstream is done. Not triggered: ``failed`` partitions (a failure is not retried
in a loop; a schedule or a person re-runs it), ``code_changed`` alone (a deploy is not a data
change: run ``materialize`` when you mean it), ``upstream_stale`` alone (the upstream runs first),
and eager assets without upstream partitions (nothing to react to: give them a schedule).
The run materializes exactly these partitions (``--only``): never their upstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from assetflow.planner.status import StatusEvaluator, StatusResult
from assetflow.records import PartitionStatus, ReasonKind

__all__ = ["TRIGGERS", "eager_targets"]

Node = tuple[str, str]

TRIGGERS = frozenset(
    {
        ReasonKind.UPSTREAM_CHANGED,
        ReasonKind.UPSTREAM_ADDED,
        ReasonKind.UPSTREAM_REMOVED,
        ReasonKind.SOURCE_CHANGED,  # a sensor: the file it reads changed
    }
)


def _triggered(result: StatusResult) -> bool:
    if result.status is PartitionStatus.MISSING:
        return True
    return result.status is PartitionStatus.STALE and any(
        reason.kind in TRIGGERS for reason in result.reasons
    )


def _ready(result: StatusResult) -> bool:
    if result.status is PartitionStatus.FRESH:
        return True
    return result.status is PartitionStatus.STALE and all(
        reason.kind is ReasonKind.OVERDUE for reason in result.reasons
    )


def eager_targets(evaluator: StatusEvaluator, assets: Iterable[str]) -> list[Node]:
    """The partitions of the eager ``assets`` to materialize now, in dependency order."""
    graph = evaluator.graph
    eager: Set[str] = set(assets)
    if not eager:
        return []
    order = {name: i for i, name in enumerate(graph.topological_order())}
    existing = evaluator.existing
    nodes = [
        (name, key) for name in sorted(eager, key=order.__getitem__) for key in existing.keys(name)
    ]
    # Upstream first (graph order, then oldest first): a partition may count on one chosen
    # before it in this same pass.
    nodes.sort(key=lambda n: (order[n[0]], existing.position(*n)))
    chosen: list[Node] = []
    taken: set[Node] = set()
    for result in evaluator.evaluate(nodes):
        if not _triggered(result):
            continue
        upstream = [
            (dep, key)
            for dep, keys in evaluator.upstream_of(result.asset, result.partition).items()
            for key in keys
        ]
        if not upstream:
            continue
        if all(node in taken or _ready(evaluator.status(*node)) for node in upstream):
            chosen.append(result.node)
            taken.add(result.node)
    return chosen
