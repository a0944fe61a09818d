"""Property test of bulk status screening against evaluating every partition, on a real state file.

The random graphs and event scripts of ``test_planner_properties.py`` (half the graphs from
:func:`screenable_graphs`, whose edges are mostly clock-free; more data changes; "tick": a day
passes and what one asset reads is brought up to date; redefinitions: an edge's mapping changed,
a dependency added, a daily asset's range changed) are played in the in-memory simulator. Every
attempt it records (successes with their lineage and ``inputs_version`` as the runner sets it,
failures too) is appended to a real :class:`StateStore` in the order it happened, in batches of
one and of several records (sometimes landing last batch first, as overlapping runs may).

- At one or two checkpoints: the store's snapshot is the simulator's, and evaluating every
  partition from it (the oracle) gives the simulator's statuses; every partition the oracle
  finds not fresh is a screening candidate; the screened evaluators (``screened_evaluator``
  with and without ``include``, and the one-connection path ``status`` takes) give every
  existing partition the oracle's status and reasons; each asset's latest success is right.
- At a few more moments (one read each): every not fresh partition is a candidate.
- At the end: the cache's ``inputs_changed`` flags hold every partition whose last success read
  another data version than its upstream has now; maybe then ``rebuild_status`` keeps every
  row but sets exactly those flags, and screening over the rebuilt cache still matches.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from hypothesis import event, given, settings
from hypothesis import strategies as st
from planner_sim import Entry, History, Node, deterministic_data, new_data
from test_planner_properties import (
    DAILY,
    EVENT_KINDS,
    PARTITIONS,
    SETTINGS,
    START,
    TIME_KINDS,
    graphs,
    mappings_for,
    run_events,
)

from assetflow import (
    DailyPartitions,
    FreshnessPolicy,
    MonthlyPartitions,
    StaticPartitions,
    TimeWindowMapping,
)
from assetflow.application.operations import _screened, screen_candidates, screened_evaluator
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.status import StatusEvaluator, StatusResult, node_name
from assetflow.records import PartitionState, PartitionStatus
from assetflow.store import StateStore
from assetflow.store.screening import Screened

FRESH = PartitionStatus.FRESH
RESHAPED = DailyPartitions(start="2024-01-27", end="2024-02-04")  # a daily range, two days short
Step = tuple[str, int, int, bool]
# The planner tests' events; "tick": one asset is made fresh, a day passes, and what it reads is
# made fresh but not the asset (so a clock-dependent edge has a new upstream partition already
# materialized, and a freshness policy may lapse, with nothing stale upstream); and
# redefinitions that change an asset's inputs version. Data changing under readers that do not
# rerun (what only ``inputs_changed`` finds) is drawn more often than there.
STEP_KINDS = [
    *EVENT_KINDS,
    "remat_new",
    "remat_new",
    "tick",
    "tick",
    "remap",
    "add_dep",
    "reshape",
]
scripts = st.tuples(
    st.sampled_from([True, True, True, False]),
    st.lists(
        st.tuples(st.sampled_from(STEP_KINDS), st.integers(0, 7), st.integers(0, 9), st.booleans()),
        min_size=2,
        max_size=12,
    ),
)


@st.composite
def screenable_graphs(draw: st.DrawFn) -> AssetGraph:
    """Like ``graphs()`` (daily, self-dependent, static and unpartitioned assets, no monthly),
    but an edge is drawn among the clock-free mappings four times out of five when there are
    some, so that screening leaves most partitions out and what it skips is put to the test."""
    count = draw(st.integers(2, 6))
    kinds: list[str] = []
    definitions: list[AssetDef] = []
    for i in range(count):
        choices = ["none", "daily", "daily", "static"] + ([] if "self" in kinds else ["self"])
        kind = draw(st.sampled_from(choices))
        kinds.append(kind)
        name = f"a{i}"
        deps: list[AssetDep] = []
        ups = draw(st.lists(st.integers(0, max(i - 1, 0)), unique=True, max_size=min(2, i)))
        for j in sorted(ups):
            options = mappings_for(kind, kinds[j])
            if kinds[j] in TIME_KINDS and kind in TIME_KINDS:
                free = [m for m in options if m is None or _reads_the_past(m)]
            else:
                free = options if kinds[j] in ("none", "static") else []
            pool = free if free and draw(st.integers(0, 4)) else options
            deps.append(AssetDep(f"a{j}", draw(st.sampled_from(pool))))
        if kind == "self":
            deps.append(AssetDep(name, TimeWindowMapping(-1, -1)))
        freshness = None
        if draw(st.integers(0, 9)) == 0:
            freshness = FreshnessPolicy(max_lag=timedelta(hours=draw(st.sampled_from([3, 30]))))
        definition = AssetDef(name, deps=tuple(deps), code_version="c1", freshness=freshness)
        partitions = PARTITIONS[kind]
        definitions.append(definition.replace(partitions=partitions) if partitions else definition)
    return AssetGraph(definitions)


def _reads_the_past(mapping: object) -> bool:
    return isinstance(mapping, TimeWindowMapping) and mapping.end_offset <= 0


def kind_of(graph: AssetGraph, name: str) -> str:
    """The kind (as ``mappings_for`` names them) of an asset's partitions."""
    partitions = graph[name].partitions
    if isinstance(partitions, DailyPartitions):
        return "daily"
    if isinstance(partitions, MonthlyPartitions):
        return "monthly"
    if isinstance(partitions, StaticPartitions):
        return "static"
    return "none"


def redefine(history: History, step: Step) -> None:
    """The redefinition events: another mapping on one edge, a new dependency on an earlier
    asset, a daily asset's range switched between two definitions."""
    kind, a, p, flag = step
    graph = history.graph
    names = sorted(graph.assets, key=lambda name: int(name[1:]))  # a0..aN, deps point back
    asset = names[a % len(names)]
    definition = graph[asset]
    down = kind_of(graph, asset)
    if kind == "remap":
        deps = [dep for dep in definition.deps if dep.name != asset]
        if not deps:
            return
        chosen = deps[p % len(deps)]
        options = [
            m for m in mappings_for(down, kind_of(graph, chosen.name)) if m != chosen.mapping
        ]
        mapping = options[(p + flag) % len(options)]
        new_deps = tuple(replace(d, mapping=mapping) if d is chosen else d for d in definition.deps)
        history.redefine(definition.replace(deps=new_deps))
        history.log.append(f"remap {asset} <- {chosen.name}: {mapping!r}")
    elif kind == "add_dep":
        have = {dep.name for dep in definition.deps}
        ups = [name for name in names[: names.index(asset)] if name not in have]
        if not ups:
            return
        up = ups[p % len(ups)]
        options = mappings_for(down, kind_of(graph, up))
        mapping = options[(p + flag) % len(options)]
        history.redefine(definition.replace(deps=(*definition.deps, AssetDep(up, mapping))))
        history.log.append(f"add {asset} <- {up}: {mapping!r}")
    elif kind == "reshape" and down == "daily":
        new = RESHAPED if definition.partitions != RESHAPED else DAILY
        history.redefine(definition.replace(partitions=new))
        history.log.append(f"reshape {asset}: {new}")


def play(history: History, step: Step, *, with_only: bool) -> None:
    kind, a, _, flag = step
    if kind == "tick":
        graph = history.graph
        readers = [n for n in graph.topological_order() if set(graph.upstream(n)) - {n}]
        if not readers:
            return
        asset = readers[a % len(readers)]
        data = new_data if flag else deterministic_data
        history.make_fresh(history.nodes([asset]), data=data)
        history.advance()
        ups = [up for up in graph.upstream(asset) if up != asset]
        history.apply(history.plan(history.nodes(ups)), data)
        history.log.append(f"tick: {asset} made fresh, a day passes, what it reads made fresh")
    elif kind in EVENT_KINDS:
        run_events(history, (False, [step]), with_only=with_only)
    else:
        redefine(history, step)


def write(
    store: StateStore, history: History, sizes: Sequence[int], written: int, *, reverse: bool
) -> int:
    """Append the attempts recorded since ``written`` in batches of ``sizes`` (cycled; the
    third batch takes the rest: each write opens the file); returns how many are written now.

    With ``reverse`` the batches land last first, as those of overlapping runs may.
    """
    pending = history.journal[written:]
    cycle = itertools.cycle(sizes)
    batches: list[list[Entry]] = []
    while pending:
        size = next(cycle) if len(batches) < 2 else len(pending)
        batches.append(pending[:size])
        pending = pending[size:]
    for batch in reversed(batches) if reverse else batches:
        store.append([m for m, _ in batch], [line for _, lines in batch for line in lines])
    return len(history.journal)


def normalized(snapshot: Mapping[Node, PartitionState]) -> dict[Node, PartitionState]:
    """A snapshot with each success's inputs sorted (the store reads them sorted)."""
    result = {}
    for node, state in snapshot.items():
        success = state.last_success
        if success is not None:
            inputs = tuple(sorted(success.inputs, key=lambda i: (i.asset, i.partition)))
            state = replace(state, last_success=replace(success, inputs=inputs))
        result[node] = state
    return result


def same(result: StatusResult) -> tuple[PartitionStatus, list[dict[str, str]]]:
    return result.status, [reason.to_json() for reason in result.reasons]


def assert_as_oracle(
    oracle: Mapping[Node, StatusResult], results: Sequence[StatusResult], history: History, how: str
) -> None:
    wrong = {
        node_name(r.node): (same(oracle[r.node]), same(r))
        for r in results
        if same(r) != same(oracle[r.node])
    }
    assert not wrong, f"{how}: {{node: (oracle, screened)}} = {wrong}\nevents: {history.log}"


def check_candidates(history: History, store: StateStore) -> tuple[Screened, set[Node]]:
    """Every partition the simulator finds not fresh is a screening candidate (one read)."""
    graph, now = history.graph, history.now
    spec, screened, candidates = screen_candidates(graph, store, now)
    assert [(a.name, list(spec.keys(a))) for a in spec.assets] == [
        (name, history.keys(name)) for name in graph.topological_order()
    ]
    not_fresh = {node for node, r in history.statuses().items() if r.status is not FRESH}
    missed = sorted(node_name(node) for node in not_fresh - candidates)
    assert not missed, f"not fresh, not candidates: {missed}\nevents: {history.log}"
    existing = set(history.nodes())
    event(f"candidates: {'none' if not candidates else 'some' if existing - candidates else 'all'}")
    return screened, candidates


def check_screening(history: History, store: StateStore, include: Sequence[Node]) -> None:
    """The oracle is the simulator's; screening finds its not fresh partitions, and the screened
    evaluator (with and without ``include``) its statuses and reasons."""
    graph, now = history.graph, history.now
    nodes = history.nodes()
    snapshot = store.snapshot(graph.assets)
    assert normalized(snapshot) == normalized(history.states), history.log
    oracle = {r.node: r for r in StatusEvaluator(graph, snapshot, now).evaluate(nodes)}
    assert oracle == history.statuses(), history.log
    screened, candidates = check_candidates(history, store)

    results = screened_evaluator(graph, store, now, candidates).evaluate(nodes)
    assert_as_oracle(oracle, results, history, "screened")
    # With ``include`` (as ``statuses`` and backfills ask), also evaluating those first.
    evaluator = screened_evaluator(graph, store, now, candidates, include)
    firsts = evaluator.evaluate(include)
    assert_as_oracle(oracle, firsts, history, "screened, include first")
    assert all(r == oracle[r.node] for r in firsts), history.log
    assert_as_oracle(oracle, evaluator.evaluate(nodes), history, "screened with include")
    # The path ``status`` takes: scan and read on one connection.
    _, at_once, evaluator = _screened(graph, store, now, include)
    assert at_once == screened
    assert evaluator.candidates == candidates
    assert_as_oracle(oracle, evaluator.evaluate(nodes), history, "screened on one connection")

    latest: dict[str, datetime | None] = dict.fromkeys(graph.assets)
    for asset, key in nodes:
        success = snapshot.get((asset, key), PartitionState()).last_success
        if success is not None:
            at = latest[asset]
            latest[asset] = success.ended_at if at is None else max(at, success.ended_at)
    assert screened.last_success_at == latest


def cache(path: Path) -> dict[Node, tuple[object, ...]]:
    """The status cache's rows (all columns, ``inputs_changed`` last)."""
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT asset, partition, last_success_id, last_success_code_version, "
            "last_success_data_version, last_success_at, last_attempt_id, last_attempt_status, "
            "last_attempt_at, last_error, last_success_inputs_version, inputs_changed "
            "FROM partition_status"
        ).fetchall()
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def changed_inputs(history: History) -> set[Node]:
    """Partitions whose last success read another data version than the upstream has now."""
    return {
        node
        for node, state in history.states.items()
        if state.last_success is not None
        and any(
            i.data_version != history.data_version(i.asset, i.partition)
            for i in state.last_success.inputs
        )
    }


def check_flags(history: History, store: StateStore, *, rebuild: bool) -> None:
    """The kept ``inputs_changed`` flags cover the exact ones. With ``rebuild``: rebuilding the
    cache gives the same rows with exactly those flags, and screening over it still matches
    the oracle (unchanged, since the snapshot's rows are)."""
    before = cache(store.path)
    exact = changed_inputs(history)
    flagged = {node for node, row in before.items() if row[-1]}
    missing = sorted(node_name(node) for node in exact - flagged)
    assert not missing, f"inputs changed but not flagged: {missing}\nevents: {history.log}"
    if not rebuild:
        return
    store.rebuild_status()
    after = cache(store.path)
    assert {n: row[:-1] for n, row in after.items()} == {n: row[:-1] for n, row in before.items()}
    assert {node for node, row in after.items() if row[-1]} == exact, history.log
    graph, now, nodes = history.graph, history.now, history.nodes()
    oracle = history.statuses()
    candidates = check_candidates(history, store)[1]
    results = screened_evaluator(graph, store, now, candidates).evaluate(nodes)
    assert_as_oracle(oracle, results, history, "screened after a rebuild")


# Every store call opens the DuckDB file (tens of ms): few examples, few calls per example.
@settings(SETTINGS, max_examples=40)
@given(graph=st.one_of(graphs(), screenable_graphs()), script=scripts, data=st.data())
def test_screening_matches_evaluating_everything(
    graph: AssetGraph, script: tuple[bool, list[Step]], data: st.DataObject
) -> None:
    history = History(graph, START)
    warm, steps = script
    with_only = data.draw(st.booleans(), label="with_only")
    sizes = data.draw(
        st.lists(st.sampled_from([1, 1, 2, 3, 7, 40]), min_size=1, max_size=4), label="batches"
    )
    reverse = data.draw(st.integers(0, 3), label="reverse") == 0
    # Full checks (a few reads each) at the end and maybe once before; candidates only (one
    # read) at a few more moments, and after each tick (what only verified assets show).
    checkpoints = {len(steps)} | data.draw(
        st.sets(st.integers(0, len(steps)), max_size=1), label="checkpoint"
    )
    glances = data.draw(st.sets(st.integers(0, len(steps) - 1), max_size=2), label="glances")
    glances |= {index + 1 for index, step in enumerate(steps) if step[0] == "tick"}
    if warm:
        history.make_fresh(history.nodes(), data=deterministic_data)
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Path(folder) / "state.duckdb")
        written = 0
        for index in range(len(steps) + 1):
            if index in checkpoints:
                written = write(store, history, sizes, written, reverse=reverse)
                nodes = history.nodes()
                include = data.draw(
                    st.lists(st.sampled_from(nodes), max_size=6, unique=True)
                    if nodes
                    else st.just([]),
                    label="include",
                )
                check_screening(history, store, include)
            elif index in glances:
                written = write(store, history, sizes, written, reverse=reverse)
                check_candidates(history, store)
            if index == len(steps):
                check_flags(history, store, rebuild=data.draw(st.booleans(), label="rebuild"))
            if index < len(steps):
                play(history, steps[index], with_only=with_only)
