"""Backfills: re-run a range of partitions in order, tracked so that it can be resumed.

A backfill is recorded (``backfills`` table) before its first run; each run it makes is linked to
it, and ``resume`` plans only the partitions no run of it has materialized yet.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.application.operations import (
    Node,
    Scope,
    check_executor,
    evaluator,
    execute,
    targets,
    with_estimates,
)
from assetflow.errors import RunError
from assetflow.planner.plan import Plan, build_plan
from assetflow.planner.status import StatusEvaluator
from assetflow.records import (
    BackfillRecord,
    PartitionStatus,
    RunKind,
    RunStatus,
    StateSnapshot,
    StepStatus,
    new_run_id,
    utcnow,
)
from assetflow.runner.interrupts import deferred_interrupts
from assetflow.runner.results import RunObserver, RunResult

if TYPE_CHECKING:
    from assetflow.application.workspace import Workspace
    from assetflow.store.store import StateStore


def backfill(
    workspace: Workspace,
    scope: Scope,
    *,
    missing_only: bool = False,
    stale_only: bool = False,
    downstream: bool = False,
    workers: int | None = None,
    fail_fast: bool = False,
    observer: RunObserver | None = None,
    now: datetime | None = None,
) -> RunResult:
    """Re-run a range in order, tracked as a resumable backfill."""
    if missing_only and stale_only:
        raise RunError("give either --missing-only or --stale-only, not both")
    check_executor(workspace.config.executor.kind)
    if scope.first is None or scope.last is None:
        raise RunError("a backfill needs --from and --to")
    if downstream:
        scope = replace(scope, selection=tuple(f"{term}+" for term in scope.selection or ("*",)))
    moment = workspace.now(now)
    ev = evaluator(workspace, moment, include=targets(workspace, scope, moment))
    nodes = _backfill_nodes(workspace, scope, ev, missing_only, stale_only)
    plan = with_estimates(workspace, build_plan(workspace.graph, ev, nodes, force=True))
    created = utcnow()
    options = {"missing_only": missing_only, "stale_only": stale_only, "downstream": downstream}
    record = BackfillRecord(
        backfill_id=f"bf-{new_run_id(created)}",
        selection=scope.describe(),
        range_from=scope.first,
        range_to=scope.last,
        options={**options, **scope.arguments()},
        status=RunStatus.RUNNING,
        created_at=created,
        updated_at=created,
        total=len(plan.steps),
    )
    # From its record to its last update, a Ctrl-C only asks the run to stop (see
    # runner/interrupts.py): the backfill is never left half recorded.
    with deferred_interrupts():
        workspace.store.create_backfill(record)
        return _run_backfill(
            workspace, record, plan, scope, workers, fail_fast, observer, ev.snapshot
        )


def resume_backfill(
    workspace: Workspace,
    backfill_id: str,
    *,
    workers: int | None = None,
    fail_fast: bool = False,
    observer: RunObserver | None = None,
    now: datetime | None = None,
) -> RunResult:
    """Continue a backfill: its partitions that no run of it has materialized yet."""
    store = workspace.store
    record = store.backfill(backfill_id)
    if record is None:
        raise RunError(f"unknown backfill '{backfill_id}' (see `assetflow backfill list`)")
    arguments = record.options
    scope = Scope(
        selection=tuple(arguments.get("selection") or ()),
        exclude=tuple(arguments.get("exclude") or ()),
        first=record.range_from,
        last=record.range_to,
    )
    moment = workspace.now(now)
    ev = evaluator(workspace, moment, include=targets(workspace, scope, moment))
    nodes = _backfill_nodes(
        workspace, scope, ev, bool(arguments.get("missing_only")), bool(arguments.get("stale_only"))
    )
    done: set[Node] = set()
    for run_id in record.run_ids:
        for step in store.run_steps(run_id):
            if step.status is StepStatus.SUCCESS:
                done.add((step.asset, step.partition))
    remaining = [node for node in nodes if node not in done]
    plan = with_estimates(workspace, build_plan(workspace.graph, ev, remaining, force=True))
    # Of a --missing-only/--stale-only backfill, what is neither made by its runs nor still
    # wanted was made by another run meanwhile: nothing is left to do for it.
    selective = bool(arguments.get("missing_only") or arguments.get("stale_only"))
    settled = max(record.total - len(remaining), 0) if selective else 0
    with deferred_interrupts():
        return _run_backfill(
            workspace, record, plan, scope, workers, fail_fast, observer, ev.snapshot, settled
        )


def _backfill_nodes(
    workspace: Workspace, scope: Scope, ev: StatusEvaluator, missing_only: bool, stale_only: bool
) -> list[Node]:
    nodes = targets(workspace, scope, ev.now)
    if not (missing_only or stale_only):
        return list(nodes)
    results = ev.evaluate(nodes)
    if missing_only:
        wanted = {PartitionStatus.MISSING, PartitionStatus.FAILED}
    else:
        wanted = {PartitionStatus.STALE, PartitionStatus.MISSING, PartitionStatus.FAILED}
    return [r.node for r in results if r.status in wanted]


def _run_backfill(
    workspace: Workspace,
    record: BackfillRecord,
    plan: Plan,
    scope: Scope,
    workers: int | None,
    fail_fast: bool,
    observer: RunObserver | None,
    snapshot: StateSnapshot,
    settled: int = 0,
) -> RunResult:
    """Run a backfill's plan and update the backfill. ``settled``: how many of its partitions
    need nothing more although none of its runs made them (a resumed ``--missing-only`` backfill
    whose missing partitions another run made meanwhile): they count as done."""
    from assetflow.runner.run import RunCancelled

    store = workspace.store
    status = RunStatus.CRASHED
    result: RunResult | None = None
    try:
        result = execute(
            workspace,
            plan,
            scope,
            kind=RunKind.BACKFILL,
            workers=workers,
            fail_fast=fail_fast,
            observer=observer,
            backfill_id=record.backfill_id,
            extra_arguments={"backfill_id": record.backfill_id},
            snapshot=snapshot,
        )
        status = result.status
        return result
    except RunCancelled as cancelled:
        result = cancelled.result if isinstance(cancelled.result, RunResult) else None
        status = RunStatus.CANCELLED
        raise
    finally:
        run_ids = [*record.run_ids, *([result.run_id] if result and result.run_id else [])]
        made = _distinct_successes(store, run_ids)
        if settled and result is not None:
            made = max(made, settled + (result.counts or {}).get(StepStatus.SUCCESS.value, 0))
        store.update_backfill(
            record.backfill_id,
            status=status,
            done=min(record.total, made),
            run_id=result.run_id if result else None,
        )


def _distinct_successes(store: StateStore, run_ids: list[str]) -> int:
    """How many distinct partitions the runs of a backfill have materialized."""
    done: set[Node] = set()
    for run_id in run_ids:
        done.update(
            (s.asset, s.partition)
            for s in store.run_steps(run_id)
            if s.status is StepStatus.SUCCESS
        )
    return len(done)


def rerun_failed(
    workspace: Workspace,
    run_id: str,
    *,
    workers: int | None = None,
    observer: RunObserver | None = None,
) -> RunResult:
    """Materialize again the partitions whose last attempt in run ``run_id`` failed (and what
    they need upstream that is not fresh); RunError if the run has no failed step."""
    from assetflow.planner.targets import Targets

    store = workspace.store
    record = store.run(run_id)
    if record is None:
        raise RunError(f"unknown run '{run_id}' (see `assetflow runs`)")
    attempts = store.run_steps(record.run_id)
    last = {(a.asset, a.partition): a.status for a in attempts}
    failed = {node for node, status in last.items() if status == "failed"}
    if not failed:
        raise RunError(f"run {record.run_id} has no failed step to re-run")
    groups = [
        (name, sorted(p for a, p in failed if a == name))
        for name in workspace.graph.topological_order()
        if any(a == name for a, _ in failed)
    ]
    nodes = Targets(groups)
    moment = workspace.now()
    ev = evaluator(workspace, moment, include=nodes)
    plan = with_estimates(workspace, build_plan(workspace.graph, ev, nodes))
    scope = Scope(tuple(name for name, _ in groups))
    return execute(
        workspace,
        plan,
        scope,
        workers=workers,
        observer=observer,
        extra_arguments={"rerun_of": record.run_id},
        snapshot=ev.snapshot,
    )
