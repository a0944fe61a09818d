"""An in-memory history for planner tests: apply plans the way the runner does, inject events.

:class:`History` holds a graph, a clock and a :data:`StateSnapshot` (what the store would hand
the planner). Applying a plan records, for each step in order, a success with a new
materialization id, the asset's current code version, a data version chosen by a
:data:`DataFn`, and lineage for every *existing* mapped upstream partition (with the upstream's
current data version and materialization id, ``None`` for one never materialized, as the runner
records it). Events: code changes, rematerializations with the same or another data version,
failed attempts, time passing (new partitions becoming due), dependencies dropped.

Every attempt is also appended to :attr:`History.journal`, in order, as the records the runner
would hand the state store (``inputs_version`` included), so that a real store can be fed the
same history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from assetflow.definitions.assets import AssetDef
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.keys import ExistingKeys
from assetflow.planner.plan import Plan, build_plan
from assetflow.planner.status import StatusEvaluator, StatusResult
from assetflow.records import (
    InputVersion,
    LastSuccess,
    LineageRecord,
    MaterializationRecord,
    PartitionState,
    PartitionStatus,
    StepStatus,
)

Node = tuple[str, str]
# One attempt as the runner records it: the materialization and the lineage of a success.
Entry = tuple[MaterializationRecord, tuple[LineageRecord, ...]]

# (history, asset, partition, code_version, inputs) -> data version
DataFn = Callable[["History", str, str, str, tuple[InputVersion, ...]], str]


def deterministic_data(
    history: History, asset: str, partition: str, code: str, inputs: tuple[InputVersion, ...]
) -> str:
    """ "Same data" semantics: a pure function of the partition, its code and what it read."""
    text = repr(
        (asset, partition, code, sorted((i.asset, i.partition, i.data_version) for i in inputs))
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def new_data(
    history: History, asset: str, partition: str, code: str, inputs: tuple[InputVersion, ...]
) -> str:
    """ "New data" semantics: every materialization produces a version never seen before."""
    history.counter += 1
    return f"dv{history.counter:06d}"


def keep_data(
    history: History, asset: str, partition: str, code: str, inputs: tuple[InputVersion, ...]
) -> str:
    """Identical data: the partition's current data version (a fresh one if it has none)."""
    state = history.states.get((asset, partition))
    if state and state.last_success and state.last_success.data_version is not None:
        return state.last_success.data_version
    return new_data(history, asset, partition, code, inputs)


@dataclass
class History:
    """A graph, a clock and the latest state of every partition ever attempted."""

    graph: AssetGraph
    now: datetime
    states: dict[Node, PartitionState] = field(default_factory=dict)
    data: DataFn = new_data
    next_id: int = 0
    counter: int = 0
    log: list[str] = field(default_factory=list)
    records: dict[int, MaterializationRecord] = field(default_factory=dict)
    journal: list[Entry] = field(default_factory=list)

    # -- reading -------------------------------------------------------------------------------

    def evaluator(self) -> StatusEvaluator:
        """A fresh evaluator over a copy of the current snapshot."""
        return StatusEvaluator(self.graph, dict(self.states), self.now)

    def keys(self, asset: str) -> list[str]:
        return self.graph[asset].partitions.keys(self.now)

    def nodes(self, assets: Iterable[str] | None = None) -> list[Node]:
        """Every existing (asset, partition), in graph order."""
        names = list(self.graph.topological_order() if assets is None else assets)
        return [(name, key) for name in names for key in self.keys(name)]

    def statuses(self) -> dict[Node, StatusResult]:
        """The status of every existing partition."""
        evaluator = self.evaluator()
        return {r.node: r for r in evaluator.evaluate(self.nodes())}

    def status(self, asset: str, partition: str = "-") -> StatusResult:
        return self.evaluator().status(asset, partition)

    def reads(self, asset: str, partition: str) -> list[Node]:
        """The existing upstream partitions a partition reads now (as the runner computes it)."""
        existing = ExistingKeys(self.graph, self.now)
        mapped = self.graph.upstream_partitions(asset, partition, self.now)
        return [(dep, key) for dep, keys in mapped.items() for key in existing.filter(dep, keys)]

    def data_version(self, asset: str, partition: str = "-") -> str | None:
        state = self.states.get((asset, partition))
        return state.last_success.data_version if state and state.last_success else None

    def lookup(self, materialization_id: int) -> MaterializationRecord | None:
        """The materialization with this id."""
        return self.records.get(materialization_id)

    def successes(self, node: Node, since: int | None) -> list[MaterializationRecord]:
        """The successes of ``node`` in order, from materialization ``since`` on if it is
        known (the history that ``why`` takes)."""
        found = [
            r
            for r in self.records.values()
            if (r.asset, r.partition) == node and r.status is StepStatus.SUCCESS
        ]
        found.sort(key=lambda r: (r.ended_at, r.id))
        start = next((i for i, r in enumerate(found) if r.id == since), 0)
        return found[start:]

    def plan(self, targets: Sequence[Node], *, only: bool = False, force: bool = False) -> Plan:
        return build_plan(self.graph, self.evaluator(), targets, only=only, force=force)

    # -- events --------------------------------------------------------------------------------

    def materialize(
        self, asset: str, partition: str = "-", data: DataFn | None = None
    ) -> LastSuccess:
        """One successful attempt, recording lineage like the runner."""
        self.next_id += 1
        inputs = []
        for dep, key in self.reads(asset, partition):
            up = self.states.get((dep, key))
            success = up.last_success if up else None
            inputs.append(
                InputVersion(
                    dep,
                    key,
                    success.data_version if success else None,
                    success.materialization_id if success else None,
                )
            )
        code = self.graph[asset].code_version
        version = (data or self.data)(self, asset, partition, code, tuple(inputs))
        success = LastSuccess(self.next_id, code, version, self.now, tuple(inputs))
        record = self.records[self.next_id] = MaterializationRecord(
            id=self.next_id,
            run_id=f"sim-{self.next_id}",  # one run per success, so ``why`` can name it
            asset=asset,
            partition=partition,
            attempt=1,
            status=StepStatus.SUCCESS,
            started_at=self.now,
            ended_at=self.now,
            code_version=code,
            data_version=version,
            inputs_version=self.graph.inputs_version(asset),
        )
        lineage = tuple(
            LineageRecord(self.next_id, i.asset, i.partition, i.materialization_id, i.data_version)
            for i in inputs
        )
        self.journal.append((record, lineage))
        old = self.states.get((asset, partition), PartitionState())
        self.states[(asset, partition)] = replace(
            old, last_success=success, latest_failed=False, latest_error=None
        )
        self.log.append(f"materialize {asset}[{partition}] -> {version}")
        return success

    def apply(self, plan: Plan, data: DataFn | None = None) -> None:
        """Run every step of ``plan`` in order, each succeeding."""
        for step in plan.steps:
            self.materialize(step.asset, step.partition, data)

    def make_fresh(
        self, targets: Sequence[Node], *, data: DataFn | None = None, only: bool = False
    ) -> Plan:
        """Plan ``targets`` and apply the plan; returns the plan."""
        plan = self.plan(targets, only=only)
        self.apply(plan, data)
        return plan

    def fail(self, asset: str, partition: str = "-", error: str = "boom") -> None:
        """A failed attempt: the previous success (if any) stays, the latest attempt failed."""
        self.next_id += 1  # the store orders attempts by (ended_at, id), failures included
        record = MaterializationRecord(
            id=self.next_id,
            run_id="sim",
            asset=asset,
            partition=partition,
            attempt=1,
            status=StepStatus.FAILED,
            started_at=self.now,
            ended_at=self.now,
            code_version=self.graph[asset].code_version,
            error=error,
        )
        self.journal.append((record, ()))
        old = self.states.get((asset, partition), PartitionState())
        self.states[(asset, partition)] = replace(old, latest_failed=True, latest_error=error)
        self.log.append(f"fail {asset}[{partition}]")

    def change_code(self, asset: str, code_version: str | None = None) -> str:
        """Replace ``asset``'s definition with another code version (a new graph)."""
        old = self.graph[asset].code_version
        new = code_version or f"{old}+"
        self.redefine(self.graph[asset].replace(code_version=new))
        self.log.append(f"code {asset}: {old} -> {new}")
        return new

    def redefine(self, *definitions: AssetDef) -> None:
        """Replace these definitions (by name) and rebuild the graph."""
        by_name = {d.name: d for d in self.graph.assets.values()}
        by_name.update({d.name: d for d in definitions})
        self.graph = AssetGraph(list(by_name.values()))

    def drop_dependency(self, asset: str, dep: str) -> None:
        definition = self.graph[asset]
        deps = tuple(d for d in definition.deps if d.name != dep)
        self.redefine(definition.replace(deps=deps))
        self.log.append(f"drop {asset} <- {dep}")

    def advance(self, delta: timedelta = timedelta(days=1)) -> None:
        """Let time pass (new time partitions may become due)."""
        self.now += delta
        self.log.append(f"advance to {self.now:%Y-%m-%d %H:%M}")

    def rematerialize(self, asset: str, partition: str = "-", *, same: bool) -> LastSuccess:
        """Materialize one partition again with its current data version or a new one."""
        return self.materialize(asset, partition, keep_data if same else new_data)


def not_fresh(statuses: dict[Node, StatusResult]) -> set[Node]:
    return {node for node, r in statuses.items() if r.status is not PartitionStatus.FRESH}
