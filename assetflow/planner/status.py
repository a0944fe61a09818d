"""Statuses and reasons: a pure function of the graph, a state snapshot and the clock.

Each (asset, partition) gets exactly one status (SPEC 4): ``running`` if a live run is producing
it, ``failed`` if its latest attempt failed with no success since, ``missing`` if it never
succeeded, otherwise ``stale`` when a reason applies and ``fresh`` when none does. Reasons name
what changed: the code version, an upstream partition's data version (early cutoff: the same data
version is no change), upstream partitions that appeared or went, upstream partitions that are
themselves not fresh (transitive), and freshness policies.

Evaluation is iterative, never recursive: partitions are visited asset by asset in topological
order and, within an asset, oldest first, so a self-dependency (which only reads the past) is
always evaluated after what it reads, however long the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions.core import TimeWindowPartitions
from assetflow.planner.keys import ExistingKeys
from assetflow.records import (
    PartitionState,
    PartitionStatus,
    ReasonKind,
    StateSnapshot,
)

Node = tuple[str, str]
_EMPTY = PartitionState()
# What a run would make: a partition in one of these may be waiting for a source instead.
_RUNNABLE = frozenset({PartitionStatus.STALE, PartitionStatus.FAILED, PartitionStatus.MISSING})


def node_name(node: Node) -> str:
    """``orders[2024-01-03]``, or just ``customers`` for an unpartitioned asset."""
    asset, partition = node
    return asset if partition == "-" else f"{asset}[{partition}]"


def short_version(version: str | None) -> str:
    """A data or code version shortened for people: ``3f2a…``."""
    if version is None:
        return "none"
    return version if len(version) <= 8 else version[:6] + "…"


@dataclass(frozen=True)
class Reason:
    """Why a partition is not fresh; ``upstream`` names the partition the reason points to."""

    kind: ReasonKind
    detail: str
    upstream: Node | None = None

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "detail": self.detail}


@dataclass(frozen=True)
class StatusResult:
    """The status of one (asset, partition), its reasons and what history says about it."""

    asset: str
    partition: str
    status: PartitionStatus
    reasons: tuple[Reason, ...] = ()
    last_materialized_at: datetime | None = None
    data_version: str | None = None
    code_version: str | None = None
    # For a ``running`` partition: whether it would be fresh but for the run holding it (a
    # run claims every partition of its plan, also those it then finds made and skips). Such
    # a partition needs no step of another plan.
    fresh_underneath: bool = field(default=False, compare=False)

    @property
    def node(self) -> Node:
        return (self.asset, self.partition)

    def to_json(self) -> dict[str, object]:
        """The ``status --json --partitions`` record (field names are a stable contract)."""
        return {
            "asset": self.asset,
            "partition": self.partition,
            "status": self.status.value,
            "reasons": [reason.to_json() for reason in self.reasons],
            "last_materialized_at": (
                self.last_materialized_at.isoformat() if self.last_materialized_at else None
            ),
            "data_version": self.data_version,
            "code_version": self.code_version,
        }


class StatusEvaluator:
    """Computes statuses on demand, memoized, for one graph, snapshot and moment.

    ``running`` names partitions a live run is materializing now (they are ``running``).
    ``candidates``, when given, are the only partitions that may be anything but fresh (found by
    :mod:`assetflow.planner.screen`): every other partition is fresh without being evaluated,
    and the snapshot need only hold the candidates and what they read. Without it every
    partition is evaluated from the snapshot: the reference the screened path is tested against.
    ``damaged`` names partitions whose stored data is gone or was changed outside assetflow
    (``data_missing`` / ``data_changed``, see :mod:`assetflow.io.presence`): made, but stale.
    """

    def __init__(
        self,
        graph: AssetGraph,
        snapshot: StateSnapshot,
        now: datetime,
        running: Mapping[Node, str] | None = None,
        candidates: Set[Node] | None = None,
        damaged: Mapping[Node, tuple[ReasonKind, str]] | None = None,
    ) -> None:
        self.graph = graph
        self.snapshot = snapshot
        self.now = now
        self.running = dict(running or {})
        self.candidates = candidates
        self.damaged = dict(damaged or {})
        self.existing = ExistingKeys(graph, now)
        self._results: dict[Node, StatusResult] = {}
        self._order = {name: i for i, name in enumerate(graph.topological_order())}
        self._source_fed: dict[str, bool] = {}

    # -- public --------------------------------------------------------------------------------

    def maybe_stale(self, node: Node) -> bool:
        """False when ``node`` is known fresh without evaluating it (not a screened candidate)."""
        return self.candidates is None or node in self.candidates or node in self.running

    def status(self, asset: str, partition: str) -> StatusResult:
        """The status of one partition (evaluating what it depends on first)."""
        node = (asset, partition)
        found = self._results.get(node)
        if found is None:
            if not self.maybe_stale(node):
                return self._fresh(node)
            self.evaluate([node])
            found = self._results[node]
        return found

    def evaluate(self, nodes: Iterable[Node]) -> list[StatusResult]:
        """Statuses of ``nodes`` (in the order given), evaluating their upstream closure."""
        wanted = list(nodes)
        pending = self._closure(
            [n for n in wanted if n not in self._results and self.maybe_stale(n)]
        )
        # Upstream first: graph order, then oldest first (a self-dependency reads the past).
        pending.sort(key=lambda n: (self._order[n[0]], self.existing.position(*n)))
        for node in pending:
            self._results[node] = self._compute(node)
        return [self._results.get(node) or self._fresh(node) for node in wanted]

    def upstream_of(self, asset: str, partition: str) -> dict[str, list[str]]:
        """The existing upstream partitions one partition reads now, per upstream asset."""
        mapped = self.graph.upstream_partitions(asset, partition, self.now)
        return {dep: self.existing.filter(dep, keys) for dep, keys in mapped.items()}

    # -- internals -----------------------------------------------------------------------------

    def _closure(self, start: list[Node]) -> list[Node]:
        """``start`` and the existing upstream partitions whose statuses theirs depend on.

        Only a partition with a success (and no later failure) looks at its upstream ones, and
        with candidates only candidates need evaluating.
        """
        seen: set[Node] = set(start)
        stack = list(start)
        while stack:
            node = stack.pop()
            state = self.snapshot.get(node, _EMPTY)
            made = state.last_success is not None and not state.latest_failed
            if not made and not self._fed_by_source(node[0]):
                continue
            for dep, keys in self.upstream_of(*node).items():
                for key in keys:
                    upstream = (dep, key)
                    if (
                        upstream not in seen
                        and upstream not in self._results
                        and self.maybe_stale(upstream)
                    ):
                        seen.add(upstream)
                        stack.append(upstream)
        return list(seen)

    def _fed_by_source(self, asset: str) -> bool:
        """Whether a source is among ``asset``'s ancestors (then it may be ``waiting``)."""
        found = self._source_fed.get(asset)
        if found is None:
            graph = self.graph
            found = self._source_fed[asset] = any(
                graph[name].is_source for name in graph.ancestors(asset)
            )
        return found

    def _fresh(self, node: Node) -> StatusResult:
        """The result of a partition screening found fresh."""
        success = self.snapshot.get(node, _EMPTY).last_success
        if success is None:
            return StatusResult(node[0], node[1], PartitionStatus.FRESH)
        return StatusResult(
            node[0],
            node[1],
            PartitionStatus.FRESH,
            last_materialized_at=success.ended_at,
            data_version=success.data_version,
            code_version=success.code_version,
        )

    def _compute(self, node: Node) -> StatusResult:
        """The status of ``node``; one that needs a run it cannot have yet (a source partition
        it reads is not there) is ``waiting`` instead, its other reasons kept after that one."""
        result = self._status_of(node)
        if result.status in _RUNNABLE and self._fed_by_source(node[0]):
            waiting = self._waiting_on(node)
            if waiting is not None:
                return replace(
                    result, status=PartitionStatus.WAITING, reasons=(waiting, *result.reasons)
                )
        return result

    def _status_of(self, node: Node) -> StatusResult:
        asset, partition = node
        definition = self.graph[asset]
        state = self.snapshot.get(node, _EMPTY)
        success = state.last_success
        facts = {
            "last_materialized_at": success.ended_at if success else None,
            "data_version": success.data_version if success else None,
            "code_version": success.code_version if success else None,
        }
        if definition.is_source:
            return self._source_status(node, state, facts)
        overdue = self._overdue(asset, partition, state)
        if node in self.running:
            reason = Reason(ReasonKind.RUNNING, f"running in run {self.running[node]}")
            underneath = self._settled_status(node, state, overdue)
            return StatusResult(
                asset,
                partition,
                PartitionStatus.RUNNING,
                (reason,),
                fresh_underneath=underneath is PartitionStatus.FRESH,
                **facts,  # type: ignore[arg-type]
            )
        return self._history_status(node, state, overdue, facts)

    def _settled_status(
        self, node: Node, state: PartitionState, overdue: tuple[Reason, ...]
    ) -> PartitionStatus:
        """What ``node`` would be if no run held it."""
        return self._history_status(node, state, overdue, {}).status

    def _history_status(
        self,
        node: Node,
        state: PartitionState,
        overdue: tuple[Reason, ...],
        facts: Mapping[str, object],
    ) -> StatusResult:
        asset, partition = node
        definition = self.graph[asset]
        success = state.last_success
        if state.latest_failed:
            detail = f"latest attempt failed: {state.latest_error or 'error'}"
            reasons = (Reason(ReasonKind.FAILED, detail), *overdue)
            return StatusResult(asset, partition, PartitionStatus.FAILED, reasons, **facts)  # type: ignore[arg-type]
        if success is None:
            reasons = (Reason(ReasonKind.MISSING, "never materialized"), *overdue)
            return StatusResult(asset, partition, PartitionStatus.MISSING, reasons, **facts)  # type: ignore[arg-type]

        reasons_list: list[Reason] = []
        damage = self.damaged.get(node)
        if damage is not None:  # its data is gone or changed: first, it is what to fix
            reasons_list.append(Reason(damage[0], damage[1]))
        if success.code_version != definition.code_version:
            reasons_list.append(
                Reason(
                    ReasonKind.CODE_CHANGED,
                    f"code of {asset} changed ({short_version(success.code_version)} → "
                    f"{short_version(definition.code_version)})",
                )
            )
        read = {(i.asset, i.partition): i for i in success.inputs}
        current: set[Node] = set()
        for dep, keys in self.upstream_of(asset, partition).items():
            for key in keys:
                upstream = (dep, key)
                current.add(upstream)
                reasons_list.extend(self._upstream_reasons(upstream, read.get(upstream)))
        for upstream in sorted(set(read) - current):
            reasons_list.append(
                Reason(
                    ReasonKind.UPSTREAM_REMOVED,
                    f"upstream {node_name(upstream)} is no longer read",
                    upstream,
                )
            )
        reasons_list.extend(overdue)
        status = PartitionStatus.STALE if reasons_list else PartitionStatus.FRESH
        return StatusResult(asset, partition, status, tuple(reasons_list), **facts)  # type: ignore[arg-type]

    def _source_status(
        self, node: Node, state: PartitionState, facts: Mapping[str, object]
    ) -> StatusResult:
        """A source partition is ``fresh`` while it is there, ``missing`` while it is not."""
        if state.last_success is not None and not state.absent:
            return StatusResult(node[0], node[1], PartitionStatus.FRESH, **facts)  # type: ignore[arg-type]
        detail = f"source {node_name(node)} is not there yet"
        if state.last_success is not None:
            detail = f"source {node_name(node)} is not there any more"
        reason = Reason(ReasonKind.SOURCE_MISSING, detail, node)
        return StatusResult(node[0], node[1], PartitionStatus.MISSING, (reason,), **facts)  # type: ignore[arg-type]

    def _waiting_on(self, node: Node) -> Reason | None:
        """``source_missing`` when a source partition ``node`` reads, directly or through
        upstream partitions, is not there: it cannot be made yet."""
        for dep, keys in self.upstream_of(*node).items():
            source = self.graph[dep].is_source
            for key in keys:
                upstream = (dep, key)
                if upstream == node:
                    continue
                result = self._results.get(upstream) or self.status(*upstream)
                if source and result.status is not PartitionStatus.FRESH:
                    return result.reasons[0]
                if result.status is PartitionStatus.WAITING:
                    inner = result.reasons[0]
                    detail = f"upstream {node_name(upstream)} is waiting: {inner.detail}"
                    return Reason(ReasonKind.SOURCE_MISSING, detail, upstream)
        return None

    def _upstream_reasons(self, upstream: Node, was: object) -> list[Reason]:
        up_state = self.snapshot.get(upstream, _EMPTY)
        up_result = self._results.get(upstream) or self._fresh(upstream)
        name = node_name(upstream)
        if was is None:
            return [Reason(ReasonKind.UPSTREAM_ADDED, f"upstream {name} is new", upstream)]
        read_version = getattr(was, "data_version", None)
        now_version = up_state.last_success.data_version if up_state.last_success else None
        if now_version != read_version and self.graph[upstream[0]].is_source:
            detail = (
                f"source {name} changed (version {short_version(read_version)} → "
                f"{short_version(now_version)})"
            )
            return [Reason(ReasonKind.SOURCE_CHANGED, detail, upstream)]
        if self.graph[upstream[0]].is_source:  # not there (any more): see _waiting_on
            return []
        if now_version != read_version:
            detail = (
                f"upstream {name} changed (data version {short_version(read_version)} → "
                f"{short_version(now_version)})"
            )
            return [Reason(ReasonKind.UPSTREAM_CHANGED, detail, upstream)]
        if up_result.status in (
            PartitionStatus.STALE,
            PartitionStatus.FAILED,
            PartitionStatus.MISSING,
        ):
            detail = f"upstream {name} is {up_result.status.value}"
            return [Reason(ReasonKind.UPSTREAM_STALE, detail, upstream)]
        return []

    def _overdue(self, asset: str, partition: str, state: PartitionState) -> tuple[Reason, ...]:
        """A freshness policy violation: the latest due partition not done within its lag."""
        policy = self.graph[asset].freshness
        if policy is None:
            return ()
        definition = self.graph[asset].partitions
        success = state.last_success
        if not isinstance(definition, TimeWindowPartitions):
            if definition.kind != "none":
                return ()
            if success is not None and self.now - success.ended_at <= policy.max_lag:
                return ()
            since = f"since {success.ended_at:%Y-%m-%d %H:%M}" if success else "ever"
            detail = f"not materialized {since} (max lag {policy.max_lag})"
            return (Reason(ReasonKind.OVERDUE, detail),)
        if success is not None or partition != self.existing.last(asset):
            return ()
        # In UTC: adding a lag to a local datetime counts wall-clock hours, wrong across DST.
        deadline = definition.time_window(partition)[1].astimezone(UTC) + policy.max_lag
        if self.now <= deadline:
            return ()
        detail = f"latest partition {partition} not materialized by {deadline:%Y-%m-%d %H:%M}"
        return (Reason(ReasonKind.OVERDUE, detail),)
