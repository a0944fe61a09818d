"""The operations behind :class:`~assetflow.application.workspace.Project`: status, plan,
run, backfill.

Each reads history through the state store, decides with the pure planner, and (for runs)
executes with the runner, recording through a batching recorder so that the state file is
never held open for long.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

# Running a plan lives in assetflow.application.running; callers say operations.execute.
from assetflow.application.running import check_executor as check_executor
from assetflow.application.running import execute as execute
from assetflow.partitions import ranges
from assetflow.partitions.keyspace import KeySequence
from assetflow.planner.keys import ExistingKeys
from assetflow.planner.plan import Plan, build_plan
from assetflow.planner.screen import (
    Candidates,
    ScreenSpec,
    build_screen_spec,
    bulk_ready,
    expand_downstream,
)
from assetflow.planner.status import StatusEvaluator, StatusResult
from assetflow.planner.steps import step_assets
from assetflow.planner.targets import Targets, resolve_targets
from assetflow.records import (
    PartitionStatus,
    ReasonKind,
)

if TYPE_CHECKING:
    from assetflow.application.workspace import Workspace
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.store.screening import Screened
    from assetflow.store.store import StateStore

Node = tuple[str, str]
# A selection as callers give it: one string, several, or None (everything).
Selection = str | Sequence[str] | None


@dataclass(frozen=True)
class Scope:
    """What a command targets: a selection and an optional partition key or range."""

    selection: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    partition: str | None = None
    first: str | None = None
    last: str | None = None

    def describe(self) -> str:
        text = " ".join(self.selection) or "*"
        if self.exclude:
            text += " --exclude " + " ".join(self.exclude)
        return text

    def arguments(self) -> dict[str, Any]:
        return {
            "selection": list(self.selection),
            "exclude": list(self.exclude),
            "partition": self.partition,
            "from": self.first,
            "to": self.last,
        }


def evaluator(
    workspace: Workspace,
    now: datetime | None = None,
    include: Collection[Node] = (),
    for_assets: Iterable[str] | None = None,
) -> StatusEvaluator:
    """A status evaluator over the project's current history, screened in bulk.

    First the sources that ``for_assets`` read (all sources for ``None``) are observed. One
    scan of the status cache then finds the partitions that might not be fresh (see
    :mod:`assetflow.planner.screen`); the snapshot read holds those, the partitions in
    ``include`` (a forced plan's targets, whose runs need what they read), and what they read.
    """
    moment = workspace.now(now)
    with observed_reading(workspace, for_assets, moment):  # one open for every read
        damaged = damaged_of(workspace)
        return _screened(workspace.graph, workspace.store, moment, include, damaged)[2]


def observe_for(workspace: Workspace, assets: Iterable[str] | None, moment: datetime) -> None:
    """Observe the sources ``assets`` read (every source for ``None``), recording changes.

    Not inside a reading session: nothing found there could be recorded, and the screens that
    read through one observe before they open it (see views.assets).
    """
    from assetflow.application.observing import observe_sources, sources_read_by

    graph, store = workspace.graph, workspace.store
    sources = sources_read_by(graph, assets)
    if sources and not store.in_reading_session:
        observe_sources(graph, store, workspace.root, moment, sources, strict=False)


@contextmanager
def observed_reading(
    workspace: Workspace, assets: Iterable[str] | None, moment: datetime
) -> Iterator[None]:
    """:func:`observe_for`, then a reading session of the state file for the block.

    The sources are looked at first; whether that changes history is asked inside the
    session, and when it does not (the usual case) the block runs in that same session: one
    open of the state file. Otherwise the session closes, the changes are written, and the
    block runs in a new one.
    """
    from assetflow.application.observing import (
        look_at_sources,
        record_observed,
        sources_read_by,
        unrecorded,
    )

    graph, store = workspace.graph, workspace.store
    sources = sources_read_by(graph, assets)
    if not sources or store.in_reading_session:
        with store.reading_session():
            yield
        return
    seen = look_at_sources(graph, workspace.root, moment, sources)
    with store.reading_session():
        if not unrecorded(store, seen):
            yield
            return
    record_observed(graph, store, workspace.root, seen, strict=False)
    with store.reading_session():
        yield


def damaged_of(workspace: Workspace) -> dict[Node, tuple[ReasonKind, str]]:
    """Partitions recorded as made whose stored data is gone or changed (see
    :mod:`assetflow.io.presence`): stale with ``data_missing`` / ``data_changed``."""
    from assetflow.io.presence import damaged_partitions

    config = workspace.config
    return damaged_partitions(
        workspace.graph, workspace.store, config.warehouse_path, config.data_root
    )


def _screened(
    graph: AssetGraph,
    store: StateStore,
    moment: datetime,
    include: Collection[Node] = (),
    damaged: dict[Node, tuple[ReasonKind, str]] | None = None,
) -> tuple[ScreenSpec, Screened, StatusEvaluator]:
    """:func:`screen_candidates` then :func:`screened_evaluator`, on one store connection."""
    spec = build_screen_spec(graph, moment)
    found: list[Candidates] = []
    damaged = damaged or {}

    def needed(screened: Screened) -> set[Node] | None:
        found.append(_candidates(graph, spec, screened, damaged))
        return _needed(graph, moment, found[0], include)

    screened, snapshot = store.screen_then_read(spec, needed)
    return (
        spec,
        screened,
        StatusEvaluator(
            graph,
            snapshot,
            moment,
            running=screened.running,
            candidates=found[0],
            damaged=damaged,
        ),
    )


def screen_candidates(
    graph: AssetGraph, store: StateStore, moment: datetime
) -> tuple[ScreenSpec, Screened, Candidates]:
    """The screening data, what the scan found, and the candidates: the partitions found
    or verified, and everything downstream of them."""
    spec = build_screen_spec(graph, moment)
    screened = store.screen(spec)
    return spec, screened, _candidates(graph, spec, screened)


def screened_evaluator(
    graph: AssetGraph,
    store: StateStore,
    moment: datetime,
    candidates: AbstractSet[Node],
    include: Collection[Node] = (),
) -> StatusEvaluator:
    """An evaluator of ``candidates`` (all else fresh) over a snapshot of what they need."""
    needed = _needed(graph, moment, candidates, include)
    snapshot = store.snapshot(graph.assets) if needed is None else store.snapshot_of(needed)
    return StatusEvaluator(graph, snapshot, moment, candidates=candidates)


def _candidates(
    graph: AssetGraph, spec: ScreenSpec, screened: Screened, damaged: Collection[Node] = ()
) -> Candidates:
    """The partitions found or verified, everything downstream of them, and the partitions
    live runs hold. Never-attempted partitions of an asset nothing reads stay index ranges
    (``Candidates.bulk``); other never-attempted ones are listed as found."""
    direct: dict[str, list[str]] = dict(screened.direct)
    for name, key in damaged:  # made, but their data is gone or changed: a direct reason
        direct[name] = [*direct.get(name, ()), key]
    running = {name for name, _ in screened.running}
    bulk: dict[str, tuple[KeySequence, ranges.Ranges]] = {}
    for asset in spec.assets:
        absent = screened.absent.get(asset.name)
        if asset.verify:
            direct[asset.name] = list(spec.keys(asset))
        elif absent:
            keys = spec.keys(asset)
            ready = isinstance(keys, KeySequence) and asset.name not in running
            if ready and isinstance(keys, KeySequence) and bulk_ready(graph, asset.name):
                bulk[asset.name] = (keys, absent)
                continue
            listed = direct.setdefault(asset.name, [])
            for lo, hi in absent:
                listed.extend(keys[lo:hi])
    found = expand_downstream(graph, spec, direct)
    for name, (keys, absent) in bulk.items():  # reached from upstream too: counted once
        if name in found:
            found[name] = {k for k in found[name] if not _in_ranges(keys, absent, k)}
    explicit = {(name, key) for name, keys in found.items() for key in keys}
    explicit.update(screened.running)
    return Candidates(explicit, bulk)


def _in_ranges(keys: KeySequence, found: ranges.Ranges, key: str) -> bool:
    position = keys.position(key)
    return position is not None and ranges.contains(found, position)


def _needed(
    graph: AssetGraph,
    moment: datetime,
    candidates: AbstractSet[Node],
    include: Collection[Node],
) -> set[Node] | None:
    """The partitions whose state evaluating ``candidates`` reads (None: read them all).
    Bulk candidates were never attempted and read nothing that decides their status."""
    explicit = candidates.explicit if isinstance(candidates, Candidates) else candidates
    needed = set(explicit) | set(include)
    if len(needed) > _PARTIAL_SNAPSHOT_LIMIT:
        return None
    existing = ExistingKeys(graph, moment)
    for asset, partition in list(needed):
        for dep, keys in graph.upstream_partitions(asset, partition, moment).items():
            needed.update((dep, key) for key in existing.filter(dep, keys))
    return needed


# Past this many partitions to evaluate, one read of the whole cache beats a keyed read.
_PARTIAL_SNAPSHOT_LIMIT = 50_000


def status_counts(workspace: Workspace, scope: Scope, now: datetime | None = None) -> list[Any]:
    """``status --json`` records per selected asset: counts per status, partitions, latest
    success. Without a partition range only the screened candidates are evaluated."""
    moment = workspace.now(now)
    names = workspace.select(list(scope.selection) or None, list(scope.exclude) or None)
    graph, store = workspace.graph, workspace.store
    if scope.partition is not None or scope.first is not None or scope.last is not None:
        nodes = targets(workspace, scope, moment)
        with observed_reading(workspace, names, moment):
            damaged = damaged_of(workspace)
            ev = _screened(graph, store, moment, include=nodes, damaged=damaged)[2]
        return count_statuses(names, ev.evaluate(nodes))
    with observed_reading(workspace, names, moment):  # one open of the state file for both
        damaged = damaged_of(workspace)
        spec, screened, ev = _screened(graph, store, moment, damaged=damaged)
    selected = set(names)
    candidates = ev.candidates if isinstance(ev.candidates, Candidates) else Candidates(set())
    wanted = [node for node in candidates.explicit if node[0] in selected]
    records = count_statuses(names, ev.evaluate(wanted))
    by_name = {asset.name: asset for asset in spec.assets}
    for record in records:
        name = record["asset"]
        missing = candidates.bulk_count(name)  # never attempted, nothing else to say
        record["counts"][PartitionStatus.MISSING.value] += missing
        record["partitions"] += missing
        total = len(spec.keys(by_name[name]))
        record["counts"][PartitionStatus.FRESH.value] += total - record["partitions"]
        record["partitions"] = total
        at = screened.last_success_at.get(name)
        record["last_materialized_at"] = at.isoformat() if at else None
    return records


def count_statuses(assets: Sequence[str], results: Iterable[StatusResult]) -> list[Any]:
    """``status --json`` records over ``results``: ``{"asset", "counts": {status: n},
    "partitions": n, "last_materialized_at", "overdue"}`` per asset of ``assets``."""
    counts: dict[str, dict[str, int]] = {
        name: {status.value: 0 for status in PartitionStatus} for name in assets
    }
    last: dict[str, datetime] = {}
    overdue: set[str] = set()
    for result in results:
        counts[result.asset][result.status.value] += 1
        if any(reason.kind == ReasonKind.OVERDUE for reason in result.reasons):
            overdue.add(result.asset)
        at = result.last_materialized_at
        if at is not None and (result.asset not in last or at > last[result.asset]):
            last[result.asset] = at
    return [
        {
            "asset": name,
            "counts": counts[name],
            "partitions": sum(counts[name].values()),
            "last_materialized_at": last[name].isoformat() if name in last else None,
            "overdue": name in overdue,  # a freshness policy is violated
        }
        for name in assets
    ]


def targets(workspace: Workspace, scope: Scope, now: datetime) -> Targets:
    names = workspace.select(list(scope.selection) or None, list(scope.exclude) or None)
    return resolve_targets(workspace.graph, names, now, scope.partition, scope.first, scope.last)


def make_plan(
    workspace: Workspace,
    scope: Scope,
    *,
    only: bool = False,
    force: bool = False,
    now: datetime | None = None,
    evaluator_: StatusEvaluator | None = None,
) -> Plan:
    """The plan that makes the scope fresh, with estimated durations from history."""
    if evaluator_ is None:
        moment = workspace.now(now)
        selected = _selected(workspace, scope)
        with observed_reading(workspace, selected, moment):  # every read through one open
            ev = evaluator(workspace, moment, for_assets=selected)
            return _plan(workspace, scope, ev, only, force)
    return _plan(workspace, scope, evaluator_, only, force)


def _plan(workspace: Workspace, scope: Scope, ev: StatusEvaluator, only: bool, force: bool) -> Plan:
    nodes = targets(workspace, scope, ev.now)
    return with_estimates(workspace, build_plan(workspace.graph, ev, nodes, only=only, force=force))


def with_estimates(workspace: Workspace, plan: Plan) -> Plan:
    """``plan`` with the median past durations of the assets it runs (for its estimate)."""
    assets = sorted(step_assets(plan.steps))
    if not assets:
        return plan
    return replace(plan, estimates=workspace.store.durations(assets))


def statuses(workspace: Workspace, scope: Scope, now: datetime | None = None) -> list[Any]:
    """Every targeted partition's status (StatusResult), in asset then partition order."""
    moment = workspace.now(now)
    nodes = targets(workspace, scope, moment)
    ev = evaluator(workspace, moment, include=nodes, for_assets=_selected(workspace, scope))
    return ev.evaluate(nodes)


def _selected(workspace: Workspace, scope: Scope) -> list[str]:
    """The assets ``scope`` selects (whose sources a status or plan observes first)."""
    return workspace.select(list(scope.selection) or None, list(scope.exclude) or None)


def prune(workspace: Workspace, before: datetime) -> dict[str, int]:
    """Delete history that ended before ``before`` (never a partition's latest records)."""
    return workspace.store.prune(before)


def scope_of(
    selection: Selection,
    exclude: Selection,
    partition: str | None,
    first: str | None,
    last: str | None,
) -> Scope:
    """The scope of a command: a selection (a string or several), exclusions, a partition or
    a range."""

    def terms(value: Selection) -> tuple[str, ...]:
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    return Scope(terms(selection), terms(exclude), partition, first, last)
