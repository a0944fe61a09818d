"""Property test of early cutoff inside a run, with real runs on a real state file.

Random graphs of ``test_planner_properties.py`` (unpartitioned, daily, monthly, static and one
self-dependent daily asset; default, all, last and time-window mappings) get asset functions
that are deterministic functions of what they read: each returns one row, a hash of its
partition key, a "salt" (the part of its code that decides its data) and the rows it read, stored
as Parquet, so its data version is the fingerprint of that row. Random histories are made by
real runs: materializations of an asset (all its partitions or one, sometimes ``--only``),
refactors (a new code version, the same salt: the same data), code changes (a new code version
and the other salt: other data, or the data of two changes ago), failed attempts, days passing.

Then one plan is run twice from the same history, in two copies of the project: with early
cutoff, and with every planned step run (``Plan.read`` None). Afterwards every partition has
the same status, reasons, data version and code version in both (evaluated from every
partition's history, and screened as ``status`` does); the cut-off run ran a subset of the
steps, every step it did not run was skipped as ``unchanged inputs`` and was a cutoff candidate
of the plan, and every candidate it ran read something else than its last success had read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_planner_properties import SETTINGS, START, graphs

from assetflow import Project
from assetflow.application import operations
from assetflow.config.models import load_config
from assetflow.definitions.assets import AssetDef
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.cutoff import UNCHANGED_INPUTS
from assetflow.planner.plan import Plan
from assetflow.planner.status import StatusEvaluator, node_name
from assetflow.records import RunStatus, StepStatus
from assetflow.runner.results import RunResult
from assetflow.store import StateStore

Node = tuple[str, str]
TOML = """\
[project]
name = "cutoff"
modules = []

[executor]
workers = 2
"""


@dataclass
class World:
    """What the asset functions depend on besides what they read: each asset's salt (the data
    its code makes) and the assets that fail now."""

    salt: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)


def _digest(value: Any) -> str:
    if value is None:
        return "none"
    return repr(sorted(value.fetchall()))


def function_of(name: str, world: World) -> Any:
    """The asset's function: one row, a hash of its key, its salt and the rows it read."""

    def fn(context: Any, **inputs: Any) -> pa.Table:
        if name in world.failing:
            raise RuntimeError(f"{name} fails")
        parts = [name, context.partition_key, str(world.salt.get(name, 0))]
        parts += [f"{dep}={_digest(inputs[dep])}" for dep in sorted(inputs)]
        value = hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
        return pa.table({"v": [value]})

    return fn


def runnable(graph: AssetGraph, world: World) -> AssetGraph:
    return AssetGraph(
        [d.replace(fn=function_of(d.name, world), io="parquet") for d in graph.assets.values()]
    )


def recode(graph: AssetGraph, name: str, version: str) -> AssetGraph:
    definitions: list[AssetDef] = [
        d.replace(code_version=version) if d.name == name else d for d in graph.assets.values()
    ]
    return AssetGraph(definitions)


def project_at(root: Path, graph: AssetGraph) -> Project:
    return Project(load_config(root / "assets.toml"), graph)


# (kind, asset index, partition index, flag). Only "run" and "fail" cost a run (~0.5 s each).
Step = tuple[str, int, int, bool]
STEP_KINDS = ["run", "run", "refactor", "change", "fail", "advance"]
scripts = st.lists(
    st.tuples(st.sampled_from(STEP_KINDS), st.integers(0, 7), st.integers(0, 9), st.booleans()),
    max_size=4,
)


def play(
    project: Project, world: World, step: Step, now: datetime, tick: int
) -> tuple[Project, datetime]:
    """One event of a history; returns the project (its graph may change) and the clock."""
    kind, a, p, flag = step
    graph = project.graph
    names = graph.topological_order()
    name = names[a % len(names)]
    keys = graph[name].partitions.keys(now)
    key = keys[p % len(keys)] if keys and flag and graph[name].is_partitioned else None
    if kind == "run":
        project.materialize(name, partition=key, only=p % 3 == 0, now=now)
    elif kind in ("refactor", "change"):
        if kind == "change":
            world.salt[name] = 1 - world.salt.get(name, 0)
        # A new code version each time (a salt changed under the same code version would be
        # a function of something else than its code and inputs, which early cutoff excludes).
        project = project_at(project.root, recode(graph, name, f"v{tick}"))
    elif kind == "fail":
        world.failing.add(name)
        try:
            project.materialize(name, partition=key, only=True, now=now)
        finally:
            world.failing.discard(name)
    elif kind == "advance":
        now += timedelta(days=1)
    return project, now


def outcome(project: Project, now: datetime) -> dict[Node, tuple[Any, ...]]:
    """Every existing partition's status, reasons and versions, evaluated from its history (and
    the same screened, as ``status`` evaluates)."""
    graph = project.graph
    store = StateStore(project.config.state_path)
    evaluator = StatusEvaluator(graph, store.snapshot(graph.assets), now)
    nodes = [(n, k) for n in graph.topological_order() for k in graph[n].partitions.keys(now)]
    screened = {r.node: r for r in project.status(now=now)}
    found = {}
    for r in evaluator.evaluate(nodes):
        facts = (r.status.value, [x.to_json() for x in r.reasons], r.data_version, r.code_version)
        also = screened[r.node]
        assert (also.status.value, [x.to_json() for x in also.reasons]) == facts[:2], r.node
        found[r.node] = facts
    return found


def steps_of(result: RunResult, status: StepStatus) -> dict[Node, str | None]:
    return {(s.asset, s.partition): s.reason for s in result.steps if s.status is status}


def run_twice(
    a: Project, b: Project, target: str, only: bool, now: datetime
) -> tuple[Plan, RunResult, RunResult]:
    """The same plan in ``a`` with early cutoff and in ``b`` without (at once: two state
    files); returns the plan and both results."""
    scope = operations.Scope((target,))
    plans = []
    for project in (a, b):
        evaluator = operations.evaluator(project.workspace, now)
        plan = operations.make_plan(project.workspace, scope, only=only, evaluator_=evaluator)
        plans.append((plan, evaluator.snapshot))
    (plan, snapshot), (plan_b, snapshot_b) = plans
    assert plan_b.steps == plan.steps
    if plan.is_empty:
        return plan, RunResult(None, RunStatus.SUCCESS), RunResult(None, RunStatus.SUCCESS)
    with ThreadPoolExecutor(2) as pool:
        cut = pool.submit(operations.execute, a.workspace, plan, scope, snapshot=snapshot)
        full = pool.submit(
            operations.execute, b.workspace, replace(plan_b, read=None), scope, snapshot=snapshot_b
        )
        return plan, cut.result(), full.result()


# Each example makes a few real runs (~0.4 s each): 10 examples take 10-25 s. More, exploring:
# AF_CUTOFF_EXAMPLES=200 HYPOTHESIS_PROFILE=explore.
@settings(SETTINGS, max_examples=int(os.environ.get("AF_CUTOFF_EXAMPLES", "10")))
@given(graph=graphs(), script=scripts, data=st.data())
def test_cutoff_ends_as_running_every_planned_step(
    graph: AssetGraph, script: list[Step], data: st.DataObject
) -> None:
    world = World()
    now = START
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "a"
        root.mkdir()
        (root / "assets.toml").write_text(TOML)
        project = project_at(root, runnable(graph, world))
        if data.draw(st.integers(0, 4), label="cold") != 4:  # usually all made first
            project.materialize(now=now)
        for tick, step in enumerate(script):
            project, now = play(project, world, step, now, tick)
        # Last, usually: one asset's code changes, making the same data (a refactor) or not.
        names = project.graph.topological_order()
        readers = [name for name in names if project.graph.descendants(name)] or names
        changed = data.draw(st.sampled_from(readers), label="changed")
        last = data.draw(st.sampled_from(["refactor", "refactor", "change", "none"]), label="last")
        if last != "none":
            project, now = play(project, world, (last, names.index(changed), 0, False), now, 99)
        # The run under test: usually something downstream of it (the furthest first), and
        # what it needs.
        graph = project.graph
        below = [name for name in reversed(names) if name in graph.descendants(changed)]
        target = data.draw(st.sampled_from(below or names), label="target")
        only = data.draw(st.integers(0, 3), label="only") == 3
        twin = Path(folder) / "b"
        shutil.copytree(root, twin)
        other = project_at(twin, project.graph)
        plan, cut, full = run_twice(project, other, target, only, now)

        planned = {s.node for s in plan.steps}
        ran = set(steps_of(cut, StepStatus.SUCCESS))
        assert set(steps_of(full, StepStatus.SUCCESS)) == planned  # deterministic: no failure
        assert ran <= planned
        assert len(ran) <= len(steps_of(full, StepStatus.SUCCESS))  # never more steps
        skipped = steps_of(cut, StepStatus.SKIPPED)
        assert set(skipped) == planned - ran
        assert set(skipped.values()) <= {UNCHANGED_INPUTS}
        assert set(skipped) <= set(plan.read or {})
        # ... and no more than it must: a candidate that ran read something else than its last
        # success had read.
        after = StateStore(project.config.state_path).snapshot(project.graph.assets)
        for node in ran & set(plan.read or {}):
            success = after[node].last_success
            assert success is not None
            read = {(i.asset, i.partition): i.data_version for i in success.inputs}
            assert read != (plan.read or {})[node], f"{node_name(node)} ran on unchanged inputs"
        event(f"cut off: {'none' if not skipped else 'all' if not ran else 'some'}")
        event(f"planned: {'none' if not planned else 'some'}")
        assert outcome(project, now) == outcome(other, now)
