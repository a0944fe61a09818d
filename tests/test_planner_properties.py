"""Property tests of the pure planner (statuses, plans, why) against an in-memory history.

Random DAGs of 2-8 assets mix unpartitioned, daily, monthly, static and one self-dependent daily
asset, joined by default, all, last and time-window mappings; random event sequences (plans
applied, code changes, rematerializations with the same or new data, failed attempts, days
passing) bring them into arbitrary states. See ``planner_sim.py`` for the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from planner_sim import History, Node, deterministic_data, keep_data, new_data, not_fresh

from assetflow import (
    AllPartitionsMapping,
    DailyPartitions,
    FreshnessPolicy,
    LastPartitionMapping,
    MonthlyPartitions,
    StaticPartitions,
    TimeWindowMapping,
)
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.mappings.core import PartitionMapping
from assetflow.planner.explain import render_why, why
from assetflow.planner.plan import Plan
from assetflow.planner.status import StatusResult, node_name, short_version
from assetflow.records import PartitionStatus, ReasonKind

START = datetime(2024, 1, 30, 12, tzinfo=UTC)  # daily 25..29 due, monthly 2023-12 due
DAILY = DailyPartitions(start="2024-01-25", end="2024-02-04")  # 10 days
MONTHLY = MonthlyPartitions(start="2023-12", end="2024-03")  # Dec, Jan (due Feb 1), Feb
STATIC = StaticPartitions(["a", "b", "c"])
PARTITIONS = {"none": None, "daily": DAILY, "monthly": MONTHLY, "static": STATIC, "self": DAILY}
TIME_KINDS = {"daily", "monthly", "self"}
FOLLOWED = (ReasonKind.UPSTREAM_CHANGED, ReasonKind.UPSTREAM_STALE)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def mappings_for(down: str, up: str) -> list[PartitionMapping | None]:
    """The mappings the library accepts between two kinds (None: the default)."""
    options: list[PartitionMapping | None] = [AllPartitionsMapping(), LastPartitionMapping()]
    static_vs_time = (down == "static" and up in TIME_KINDS) or (
        up == "static" and down in TIME_KINDS
    )
    if not static_vs_time:
        options.append(None)
    if down in TIME_KINDS and up in TIME_KINDS:
        options += [
            TimeWindowMapping(-1, -1),
            TimeWindowMapping(-1, 0),
            TimeWindowMapping(-2, 0),
            TimeWindowMapping(0, 1),
        ]
    return options


@st.composite
def graphs(draw: st.DrawFn) -> AssetGraph:
    """A random valid graph: a0..aN, each depending only on earlier assets (and maybe itself)."""
    count = draw(st.integers(2, 8))
    kinds: list[str] = []
    definitions: list[AssetDef] = []
    for i in range(count):
        choices = ["none", "daily", "monthly", "static"] + ([] if "self" in kinds else ["self"])
        kind = draw(st.sampled_from(choices))
        kinds.append(kind)
        name = f"a{i}"
        deps: list[AssetDep] = []
        if i:
            ups = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=min(3, i)))
            for j in sorted(ups):
                mapping = draw(st.sampled_from(mappings_for(kind, kinds[j])))
                deps.append(AssetDep(f"a{j}", mapping))
        if kind == "self":
            deps.append(AssetDep(name, TimeWindowMapping(-1, -1)))
        freshness = None
        if draw(st.integers(0, 4)) == 0:
            freshness = FreshnessPolicy(max_lag=timedelta(hours=draw(st.sampled_from([3, 30, 80]))))
        options = {"partitions": PARTITIONS[kind]} if PARTITIONS[kind] else {}
        definitions.append(
            AssetDef(name, deps=tuple(deps), code_version="c1", freshness=freshness, **options)
        )
    return AssetGraph(definitions)


# Events: (kind, asset index, partition index, flag)
EVENT_KINDS = ["plan", "plan", "code", "remat_same", "remat_new", "fail", "advance", "drop"]
# A script starts with everything materialized (usually) or from an empty history.
events = st.tuples(
    st.sampled_from([True, True, True, False]),
    st.lists(
        st.tuples(
            st.sampled_from(EVENT_KINDS),
            st.integers(0, 7),
            st.integers(0, 9),
            st.booleans(),
        ),
        max_size=10,
    ),
)


def upstream_materialized(history: History, node: Node) -> bool:
    """Whether every existing upstream partition of ``node`` has been materialized."""
    return all(history.data_version(*up) is not None for up in history.reads(*node))


Script = tuple[bool, list[tuple[str, int, int, bool]]]


def run_events(history: History, script: Script, *, with_only: bool) -> None:
    """Apply an event script. Without ``with_only``, nothing ever succeeds over a missing upstream
    (no ``--only`` plans, no single rematerialization that would read a missing partition)."""
    warm, steps = script
    if warm:
        history.make_fresh(history.nodes(), data=deterministic_data)
    names = history.graph.topological_order()
    for kind, a, p, flag in steps:
        asset = names[a % len(names)]
        keys = history.keys(asset)
        node = (asset, keys[p % len(keys)]) if keys else None
        if kind == "plan":
            targets = [(asset, key) for key in keys]
            if keys and p % 3 == 0:
                targets = [node] if node else []
            only = with_only and flag
            history.apply(
                history.plan(targets, only=only), new_data if flag else deterministic_data
            )
        elif kind == "code":
            history.change_code(asset)
        elif kind in ("remat_same", "remat_new") and node is not None:
            materialized = history.data_version(*node) is not None
            if materialized and (with_only or upstream_materialized(history, node)):
                history.rematerialize(*node, same=kind == "remat_same")
        elif kind == "fail" and node is not None:
            history.fail(*node, error=f"error {p}")
        elif kind == "advance":
            history.advance()
        elif kind == "drop":
            deps = [d for d in history.graph.upstream(asset) if d != asset]
            if deps:
                history.drop_dependency(asset, deps[p % len(deps)])


def transitive_upstream(history: History, nodes: list[Node]) -> set[Node]:
    """Every existing upstream partition ``nodes`` read, transitively (excluding ``nodes``)."""
    seen: set[Node] = set()
    stack = list(nodes)
    while stack:
        for up in history.reads(*stack.pop()):
            if up not in seen:
                seen.add(up)
                stack.append(up)
    return seen - set(nodes)


def check_plan_shape(history: History, plan: Plan, targets: list[Node]) -> None:
    """Properties 3, 4, 5: statuses, order, minimality and completeness of one plan."""
    evaluator = history.evaluator()
    steps = [step.node for step in plan.steps]
    assert len(steps) == len(set(steps)), f"duplicate steps: {steps}"
    position = {node: i for i, node in enumerate(steps)}
    target_set = set(targets)
    # 4. order: every dependency is an earlier step; dependencies are direct upstream partitions.
    for i, step in enumerate(plan.steps):
        assert len(step.depends_on) == len(set(step.depends_on))
        reads = set(history.reads(*step.node))
        for dep in step.depends_on:
            assert dep in position, f"{step.name} depends on {dep} outside the plan"
            assert position[dep] < i, f"{step.name} runs before its dependency {dep}"
            assert dep in reads
        # every step of the plan that it reads is a dependency
        assert {up for up in reads if up in position} == set(step.depends_on)
    # 3. no fresh step unless forced; forced covers every target
    for step in plan.steps:
        result = evaluator.status(*step.node)
        assert step.status is result.status
        if result.status is PartitionStatus.FRESH:
            assert plan.force and step.node in target_set, f"fresh {step.name} in plan"
            assert [r.kind for r in step.reasons] == [ReasonKind.FORCED]
        else:
            assert step.reasons == result.reasons
    if plan.force:
        assert target_set <= set(steps)
    # 5. minimality: each step is a target or a non-fresh upstream of another step
    for step in plan.steps:
        if step.node in target_set:
            continue
        assert not plan.only, f"--only plan holds non-target {step.name}"
        assert step.status is not PartitionStatus.FRESH
        assert any(step.node in history.reads(*other) for other in steps), step.name
    # completeness (like make): non-fresh targets, and non-fresh upstream of steps unless --only
    for node in targets:
        if evaluator.status(*node).status is not PartitionStatus.FRESH:
            assert node in position, f"non-fresh target {node_name(node)} not planned"
    if not plan.only:
        for node in steps:
            for up in history.reads(*node):
                if evaluator.status(*up).status is not PartitionStatus.FRESH:
                    assert up in position, f"{node_name(up)} needed by {node_name(node)}"


def check_status_invariants(history: History, statuses: dict[Node, StatusResult]) -> None:
    """Property 8: failed, missing, fresh/stale reasons, and why chains that end and never loop."""
    evaluator = history.evaluator()
    for node, result in statuses.items():
        state = history.states.get(node)
        kinds = [r.kind for r in result.reasons]
        if state is not None and state.latest_failed:
            assert result.status is PartitionStatus.FAILED
            assert kinds[0] is ReasonKind.FAILED and state.latest_error in result.reasons[0].detail
        elif state is None or state.last_success is None:
            assert result.status is PartitionStatus.MISSING
            assert kinds[0] is ReasonKind.MISSING
        elif result.status is PartitionStatus.FRESH:
            assert result.reasons == ()
        else:
            assert result.status is PartitionStatus.STALE and result.reasons
            assert set(kinds) <= {
                ReasonKind.CODE_CHANGED,
                ReasonKind.UPSTREAM_CHANGED,
                ReasonKind.UPSTREAM_ADDED,
                ReasonKind.UPSTREAM_REMOVED,
                ReasonKind.UPSTREAM_STALE,
                ReasonKind.OVERDUE,
            }
        if state is not None and state.last_success is not None and not state.latest_failed:
            check_reasons(history, node, result, statuses)
        links = why(evaluator, *node)
        assert links and links[0].node == node and links[0].status is result.status
        assert len({link.node for link in links}) == len(links), "why loops"
        for depth, link in enumerate(links):
            assert link.depth == depth
            if depth:
                previous = links[depth - 1]
                assert any(r.upstream == link.node for r in previous.reasons)
        last = links[-1]
        assert not any(r.kind in FOLLOWED and r.upstream for r in last.reasons), (
            f"why chain of {node_name(node)} stops at {node_name(last.node)} with followable "
            f"reasons: {render_why(links)}"
        )
        assert render_why(links).startswith(f"{node_name(node)} is {result.status.value}")


def check_reasons(
    history: History, node: Node, result: StatusResult, statuses: dict[Node, StatusResult]
) -> None:
    """The reasons of a materialized partition, recomputed from its lineage and the graph now."""
    state = history.states[node]
    assert state.last_success is not None
    success = state.last_success
    read = {(i.asset, i.partition): i.data_version for i in success.inputs}
    current = history.reads(*node)
    expected: dict[ReasonKind, set[Node | None]] = {}
    if success.code_version != history.graph[node[0]].code_version:
        expected.setdefault(ReasonKind.CODE_CHANGED, set()).add(None)
    for up in current:
        up_status = statuses[up].status if up in statuses else history.status(*up).status
        if up not in read:
            expected.setdefault(ReasonKind.UPSTREAM_ADDED, set()).add(up)
        elif read[up] != history.data_version(*up):
            expected.setdefault(ReasonKind.UPSTREAM_CHANGED, set()).add(up)
        elif up_status in (PartitionStatus.STALE, PartitionStatus.FAILED, PartitionStatus.MISSING):
            expected.setdefault(ReasonKind.UPSTREAM_STALE, set()).add(up)
    for up in set(read) - set(current):
        expected.setdefault(ReasonKind.UPSTREAM_REMOVED, set()).add(up)
    got: dict[ReasonKind, set[Node | None]] = {}
    for reason in result.reasons:
        if reason.kind is not ReasonKind.OVERDUE:
            got.setdefault(reason.kind, set()).add(reason.upstream)
    assert got == expected, f"{node_name(node)}: {result.reasons}"
    for reason in result.reasons:
        if reason.upstream is not None:
            assert node_name(reason.upstream) in reason.detail


@SETTINGS
@given(graph=graphs(), script=events, data=st.data())
def test_plan_makes_selection_fresh(graph: AssetGraph, script: Script, data: st.DataObject) -> None:
    """Properties 1-5 and 8 after random events, including --only runs over missing upstream."""
    history = History(graph, START)
    run_events(history, script, with_only=data.draw(st.booleans(), label="with_only"))
    check_status_invariants(history, history.statuses())
    names = graph.topological_order()
    x = data.draw(st.sampled_from(names), label="X")
    targets = [(x, key) for key in history.keys(x)]
    force = data.draw(st.booleans(), label="force")
    semantics = data.draw(st.sampled_from([new_data, deterministic_data, keep_data]))

    plan = history.plan(targets, force=force)
    check_plan_shape(history, plan, targets)
    only_plan = history.plan(targets, only=True, force=force)
    check_plan_shape(history, only_plan, targets)
    assert {s.node for s in only_plan.steps} <= set(targets)

    event(f"plan steps: {min(len(plan), 10)}")
    event(f"statuses before: {sorted({r.status.value for r in history.statuses().values()})}")
    history.apply(plan, semantics)
    # 1. X and everything it needs are fresh
    needed = set(targets) | transitive_upstream(history, targets)
    statuses = history.statuses()
    bad = {node_name(n): statuses[n].reasons for n in needed if n in not_fresh(statuses)}
    assert not bad, f"not fresh after the plan: {bad}\nevents: {history.log}"
    # 2. planning again: nothing to do
    again = history.plan(targets)
    assert again.is_empty, again.explain()
    assert again.explain().startswith("nothing to do")
    check_status_invariants(history, statuses)


@SETTINGS
@given(graph=graphs(), script=events)
def test_plans_with_only_runs_keep_their_shape(graph: AssetGraph, script: Script) -> None:
    """Properties 3-5 and 8 hold in any state, also after --only runs."""
    history = History(graph, START)
    run_events(history, script, with_only=True)
    check_status_invariants(history, history.statuses())
    for name in graph.topological_order():
        targets = [(name, key) for key in history.keys(name)]
        for only in (False, True):
            for force in (False, True):
                check_plan_shape(history, history.plan(targets, only=only, force=force), targets)


def everything_fresh(history: History) -> dict[Node, StatusResult]:
    history.make_fresh(history.nodes())
    statuses = history.statuses()
    assert not not_fresh(statuses), history.log
    return statuses


def readers_of(history: History, changed: set[Node]) -> set[Node]:
    """Materialized partitions whose last success read one of ``changed``."""
    return {
        node
        for node, state in history.states.items()
        if state.last_success
        and any((i.asset, i.partition) in changed for i in state.last_success.inputs)
    }


def below(history: History, start: set[Node]) -> set[Node]:
    """Everything that (transitively) read one of ``start``, excluding ``start``."""
    seen = set(start)
    frontier = set(start)
    while frontier:
        frontier = readers_of(history, frontier) - seen
        seen |= frontier
    return seen - start


@SETTINGS
@given(graph=graphs(), script=events, data=st.data())
def test_early_cutoff(graph: AssetGraph, script: Script, data: st.DataObject) -> None:
    """Property 6: same data changes nothing; new data stales exactly its readers and below."""
    history = History(graph, START)
    run_events(history, script, with_only=False)
    before = everything_fresh(history)
    changed = data.draw(st.sampled_from(sorted(before)), label="P")

    history.rematerialize(*changed, same=True)
    after = history.statuses()
    assert {n: r.status for n, r in after.items()} == {n: r.status for n, r in before.items()}

    old = history.data_version(*changed)
    history.rematerialize(*changed, same=False)
    new = history.data_version(*changed)
    assert old != new
    after = history.statuses()
    direct = readers_of(history, {changed})
    indirect = below(history, direct) - direct
    for node, result in after.items():
        kinds = {r.kind for r in result.reasons}
        if node in direct:
            assert result.status is PartitionStatus.STALE
            (reason,) = [r for r in result.reasons if r.kind is ReasonKind.UPSTREAM_CHANGED]
            assert reason.upstream == changed
            assert reason.detail == (
                f"upstream {node_name(changed)} changed (data version {short_version(old)} → "
                f"{short_version(new)})"
            )
            assert kinds <= {ReasonKind.UPSTREAM_CHANGED, ReasonKind.UPSTREAM_STALE}
        elif node in indirect:
            assert result.status is PartitionStatus.STALE, node
            assert kinds == {ReasonKind.UPSTREAM_STALE}
            assert all(r.upstream in direct | indirect for r in result.reasons)
        else:
            assert result.status is PartitionStatus.FRESH, (node, result.reasons)
    check_status_invariants(history, after)


@SETTINGS
@given(graph=graphs(), script=events, data=st.data())
def test_code_change_then_identical_data(
    graph: AssetGraph, script: Script, data: st.DataObject
) -> None:
    """Property 7: a code change stales the asset and what reads it; identical data cuts off."""
    history = History(graph, START)
    run_events(history, script, with_only=False)
    everything_fresh(history)
    candidates = [name for name in graph.topological_order() if history.keys(name)]
    a = data.draw(st.sampled_from(candidates), label="A")
    old_code = history.graph[a].code_version
    new_code = history.change_code(a)
    own = {(a, key) for key in history.keys(a)}
    downstream = below(history, own)
    statuses = history.statuses()
    for node, result in statuses.items():
        kinds = {r.kind for r in result.reasons}
        if node in own:
            assert result.status is PartitionStatus.STALE
            code = [r for r in result.reasons if r.kind is ReasonKind.CODE_CHANGED]
            versions = f"{short_version(old_code)} → {short_version(new_code)}"
            assert [r.detail for r in code] == [f"code of {a} changed ({versions})"]
            assert kinds <= {ReasonKind.CODE_CHANGED, ReasonKind.UPSTREAM_STALE}  # self-dep
        elif node in downstream:
            assert result.status is PartitionStatus.STALE
            assert kinds == {ReasonKind.UPSTREAM_STALE}
        else:
            assert result.status is PartitionStatus.FRESH
    check_status_invariants(history, statuses)
    # Rematerialize A only, with identical data: everything is fresh again.
    plan = history.plan(sorted(own))
    assert {s.node for s in plan.steps} == own
    history.apply(plan, keep_data)
    statuses = history.statuses()
    assert not not_fresh(statuses), {n: statuses[n].reasons for n in not_fresh(statuses)}
