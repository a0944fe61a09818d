"""Plans: the minimal, ordered set of partition steps that makes a selection fresh.

Like ``make``: the selected partitions that are not fresh, plus every upstream partition they
need that is not fresh. A :class:`Plan` is frozen data; it can print and explain itself before
anything runs, and the runner executes exactly its steps.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.cutoff import cutoff_reads
from assetflow.planner.screen import Candidates
from assetflow.planner.status import Node, Reason, StatusEvaluator, StatusResult
from assetflow.planner.steps import PlanStep, PlanSteps, RangeSeen, StepRange, summarize
from assetflow.records import PartitionStatus, ReasonKind

__all__ = ["Plan", "PlanStep", "build_plan"]


@dataclass(frozen=True)
class Plan:
    """Steps in execution order (every step after the steps it depends on)."""

    steps: Sequence[PlanStep]  # a tuple, or PlanSteps when alike steps are kept as key ranges
    targets: Sequence[Node]
    created_at: datetime
    only: bool = False
    force: bool = False
    estimates: Mapping[str, float] = field(default_factory=dict)
    # The id of each step's last success in the history the plan was made from (None: it had
    # none). A run skips a step whose partition another run made since (see runner.leases).
    seen: Mapping[Node, int | None] | None = None
    # Partitions the plan would make but cannot yet: a source partition they read is not
    # there (status ``waiting``); not steps, never attempted.
    waiting: tuple[PlanStep, ...] = ()
    # Early cutoff (see planner.cutoff): for each step planned only because of upstream
    # changes, the upstream partitions its last success read and their data versions; a run
    # skips such a step when it would read exactly that again. None or empty: no cutoff
    # (--force, or a plan made by hand).
    read: Mapping[Node, Mapping[Node, str | None]] | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def is_empty(self) -> bool:
        return not self.steps

    @property
    def estimated_seconds(self) -> float | None:
        """Sum of past median durations per step (serial), or None without history."""
        if not self.steps or not self.estimates:
            return None
        if isinstance(self.steps, PlanSteps):  # by asset: no step object per range step
            counts = [(row.count, self.estimates.get(row.asset)) for row in summarize(self.steps)]
            known_counts = [(n, v) for n, v in counts if v is not None]
            if not known_counts:
                return None
            mean = sum(n * v for n, v in known_counts) / sum(n for n, _ in known_counts)
            return sum(n * (v if v is not None else mean) for n, v in counts)
        known = [self.estimates.get(step.asset) for step in self.steps]
        values = [v for v in known if v is not None]
        if not values:
            return None
        fallback = sum(values) / len(values)
        return sum(v if v is not None else fallback for v in known)

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [step.to_json() for step in self.steps],
            "count": len(self.steps),
            "estimated_seconds": self.estimated_seconds,
            "waiting": [step.to_json() for step in self.waiting],
        }

    def explain(self) -> str:
        """A human summary: one line per step with its first reason."""
        lines = _step_lines(self.steps, "step(s)")
        if not self.steps:
            lines = ["nothing to do: every selected partition is fresh"]
            if self.waiting:
                lines = ["nothing to do now: every selected partition is fresh or waiting"]
        lines += _step_lines(self.waiting, "waiting for source data (not run)")
        return "\n".join(lines)


def _step_lines(steps: Sequence[PlanStep], title: str) -> list[str]:
    if not steps:
        return []
    lines = [f"{len(steps)} {title}:"]
    for step in steps:
        first = step.reasons[0].detail if step.reasons else step.status.value
        more = f" (+{len(step.reasons) - 1} more)" if len(step.reasons) > 1 else ""
        lines.append(f"  {step.name}: {step.status.value}: {first}{more}")
    return lines


def build_plan(
    graph: AssetGraph,
    evaluator: StatusEvaluator,
    targets: Sequence[Node],
    *,
    only: bool = False,
    force: bool = False,
    estimates: Mapping[str, float] | None = None,
) -> Plan:
    """The minimal ordered plan that makes ``targets`` fresh.

    ``only`` leaves out upstream partitions that are not fresh (they are read as they are);
    ``force`` includes targets that are fresh too (their upstream still only when not fresh).
    """
    # Screened evaluators know most targets fresh without evaluating them: without --force,
    # only their candidates among the targets are looked at. Never-attempted partitions kept
    # as ranges (Candidates.bulk) become one step range when nothing they read is planned.
    candidates = evaluator.candidates
    run: StepRange | None = None
    if isinstance(candidates, Candidates) and candidates.bulk and not force:
        from assetflow.planner.runs import bulk_run  # only for plans with step ranges

        run, rest = bulk_run(graph, evaluator, candidates, targets)
        maybe = [node for node in candidates.explicit if node in targets] + rest
    elif force or candidates is None or len(candidates) >= len(targets):
        maybe = [node for node in targets if evaluator.maybe_stale(node)]
    else:
        maybe = [node for node in candidates if node in targets]
    statuses = {r.node: r for r in evaluator.evaluate(maybe)}
    forced = (Reason(ReasonKind.FORCED, "forced (--force)"),)
    chosen: dict[Node, tuple[Reason, ...]] = {}
    # Partitions that need a run they cannot have yet (a source partition is not there):
    # never planned, listed apart. Sources themselves are observed, never planned.
    waiting: dict[Node, tuple[Reason, ...]] = {}
    for node in targets if force else maybe:
        if graph[node[0]].is_source:
            continue
        result = statuses.get(node) or evaluator.status(*node)
        if result.status is PartitionStatus.WAITING:
            waiting[node] = result.reasons
        elif _needs_step(result):
            chosen[node] = result.reasons
        elif force:
            chosen[node] = forced
    upstream_map: dict[Node, list[Node]] = {}
    stack = list(chosen)
    while stack:
        node = stack.pop()
        ups = [
            (dep, key)
            for dep, keys in evaluator.upstream_of(*node).items()
            for key in keys
            if (dep, key) != node
        ]
        upstream_map[node] = ups
        if only:
            continue
        for upstream in ups:
            if upstream in chosen or graph[upstream[0]].is_source:
                continue
            result = evaluator.status(*upstream)
            if result.status is PartitionStatus.WAITING:
                waiting[upstream] = result.reasons
            elif _needs_step(result):
                chosen[upstream] = result.reasons
                stack.append(upstream)
    steps = _order_steps(graph, evaluator, chosen, upstream_map)
    seen: dict[Node, int | None] = {}
    for node in chosen:
        state = evaluator.snapshot.get(node)
        last = state.last_success if state is not None else None
        seen[node] = last.materialization_id if last is not None else None
    return Plan(
        steps=tuple(steps) if run is None else _merge_run(evaluator, steps, run),
        targets=targets,
        created_at=evaluator.now,
        only=only,
        force=force,
        estimates=dict(estimates or {}),
        seen=seen if run is None else RangeSeen(seen, [run]),
        waiting=tuple(
            PlanStep(node[0], node[1], PartitionStatus.WAITING, reasons)
            for node, reasons in sorted(
                waiting.items(), key=lambda item: (evaluator.existing.order(*item[0]), item[0])
            )
        ),
        read={} if force else cutoff_reads(chosen, evaluator.snapshot),
    )


def _merge_run(evaluator: StatusEvaluator, steps: list[PlanStep], run: StepRange) -> PlanSteps:
    from assetflow.planner.runs import merge_run

    return merge_run(evaluator, steps, run)


def _needs_step(result: StatusResult) -> bool:
    """Whether a partition must be made: not fresh, and not merely held by a live run that
    will find it fresh too (a run claims every partition of its plan; one it then skips as
    made elsewhere ends with no new success, and a plan that waited for it would make it
    again, although nothing changed)."""
    if result.status is PartitionStatus.RUNNING:
        return not result.fresh_underneath
    return result.status is not PartitionStatus.FRESH


def _order_steps(
    graph: AssetGraph,
    evaluator: StatusEvaluator,
    chosen: Mapping[Node, tuple[Reason, ...]],
    upstream_map: Mapping[Node, list[Node]],
) -> list[PlanStep]:
    """Kahn's algorithm with a priority: oldest time window first, then graph order."""
    topo = {name: i for i, name in enumerate(graph.topological_order())}
    depends: dict[Node, tuple[Node, ...]] = {
        node: tuple(u for u in upstream_map.get(node, []) if u in chosen) for node in chosen
    }
    waiting = {node: len(deps) for node, deps in depends.items()}
    children: dict[Node, list[Node]] = {node: [] for node in chosen}
    for node, deps in depends.items():
        for upstream in deps:
            children[upstream].append(node)

    def priority(node: Node) -> tuple[Any, ...]:
        asset, partition = node
        return (evaluator.existing.order(asset, partition), topo[asset], partition)

    ready = [(priority(n), n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[PlanStep] = []
    while ready:
        _, node = heapq.heappop(ready)
        status = evaluator.status(*node).status
        ordered.append(PlanStep(node[0], node[1], status, chosen[node], depends[node]))
        for child in children[node]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (priority(child), child))
    if len(ordered) != len(chosen):  # pragma: no cover - the graph is validated acyclic
        raise RuntimeError("partition-level dependency cycle in plan")
    return ordered
