"""Step ranges in plans: which never-attempted partitions become one :class:`StepRange`, and
where its steps fall among the plan's other steps.

A bulk candidate (see :class:`~assetflow.planner.screen.Candidates`) is missing with the one
reason "never materialized" and nothing reads it; when nothing it reads is planned either, its
step waits for no other step. Such steps of one asset are kept as index ranges. Their place in
the order is the one Kahn's algorithm in ``plan._order_steps`` would give them: every step
without a dependency is ready from the start, so before each of the other steps come exactly
the range's steps whose priority (oldest window first, then graph order, then key) is lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions import ranges
from assetflow.partitions.keyspace import KeySequence
from assetflow.planner.screen import Candidates
from assetflow.planner.status import Node, StatusEvaluator
from assetflow.planner.steps import PlanStep, PlanSteps, Segment, StepRange
from assetflow.planner.targets import Targets
from assetflow.records import PartitionStatus


def bulk_run(
    graph: AssetGraph,
    evaluator: StatusEvaluator,
    candidates: Candidates,
    targets: Sequence[Node],
) -> tuple[StepRange | None, list[Node]]:
    """The largest step range the bulk candidates among ``targets`` make, and the other bulk
    candidates among them, listed (they are planned one by one)."""
    busy = {asset for asset, _ in candidates.explicit} | set(candidates.bulk)
    busy |= {asset for asset, _ in evaluator.running}
    options: list[tuple[str, KeySequence, ranges.Ranges]] = []
    rest: list[Node] = []
    for asset, (keys, found) in candidates.bulk.items():
        chosen = ranges.intersect(found, _target_ranges(targets, asset, keys))
        if not chosen:
            continue
        if any(up in busy for up in graph.upstream(asset) if up != asset):
            rest.extend(_nodes(asset, keys, chosen))
        else:
            options.append((asset, keys, chosen))
    if not options:
        return None, rest
    best = max(options, key=lambda option: ranges.count(option[2]))
    for option in options:
        if option is not best:
            rest.extend(_nodes(*option))
    asset, keys, chosen = best
    first = evaluator.status(asset, keys[chosen[0][0]])
    if first.status is not PartitionStatus.MISSING:  # pragma: no cover - bulk means missing
        return None, rest + _nodes(asset, keys, chosen)
    return StepRange(asset, keys, chosen, first.status, first.reasons), rest


def _target_ranges(targets: Sequence[Node], asset: str, keys: KeySequence) -> ranges.Ranges:
    """The indexes (in ``keys``) of ``asset``'s targets."""
    group: Sequence[str]
    if isinstance(targets, Targets):
        group = targets.keys_of(asset)
    else:
        group = [key for name, key in targets if name == asset]
    if (
        isinstance(group, KeySequence)
        and group.definition == keys.definition
        and group.now == keys.now
    ):
        return ((group.lo, group.hi),) if group.lo < group.hi else ()
    return ranges.from_indexes(
        position for key in group if (position := keys.position(key)) is not None
    )


def _nodes(asset: str, keys: KeySequence, found: ranges.Ranges) -> list[Node]:
    return [(asset, key) for lo, hi in found for key in keys[lo:hi]]


def merge_run(evaluator: StatusEvaluator, steps: list[PlanStep], run: StepRange) -> PlanSteps:
    """``steps`` (in execution order) with the steps of ``run`` placed among them."""
    topo = {name: i for i, name in enumerate(evaluator.graph.topological_order())}

    def priority(asset: str, key: str) -> tuple[Any, ...]:
        return (evaluator.existing.order(asset, key), topo[asset], key)

    segments: list[Segment] = []
    rest = run
    for step in steps:
        bound = priority(step.asset, step.partition)
        lo, hi = 0, len(rest)
        while lo < hi:  # how many of the rest come before this step
            mid = (lo + hi) // 2
            if priority(rest.asset, rest.key(mid)) < bound:
                lo = mid + 1
            else:
                hi = mid
        if lo:
            head, rest = rest.split(lo)
            segments.append(head)
        segments.append(step)
    segments.append(rest)
    return PlanSteps(segments)
