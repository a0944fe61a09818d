"""Running a plan and recording it: the run record, claims, the recorder, the warehouse, the
runner, and the alerts of a run with failed steps. ``operations.execute`` is this."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from assetflow.errors import RunError
from assetflow.planner.keys import ExistingKeys
from assetflow.planner.plan import Plan
from assetflow.records import (
    RunKind,
    RunRecord,
    RunStatus,
    StateSnapshot,
    new_run_id,
    this_host,
    this_pid,
    utcnow,
)

if TYPE_CHECKING:
    from assetflow.application.operations import Scope
    from assetflow.application.workspace import Workspace
    from assetflow.runner.executors import StepExecutor
    from assetflow.runner.results import RunObserver, RunResult
    from assetflow.store.store import StateStore

__all__ = ["check_executor", "execute"]


def execute(
    workspace: Workspace,
    plan: Plan,
    scope: Scope,
    *,
    kind: str = RunKind.MATERIALIZE,
    workers: int | None = None,
    fail_fast: bool = False,
    observer: RunObserver | None = None,
    backfill_id: str | None = None,
    extra_arguments: dict[str, Any] | None = None,
    snapshot: StateSnapshot | None = None,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Run a plan and record it; raises RunCancelled (with the recorded result) on Ctrl-C.

    ``snapshot`` is the history the plan was made from (read again if not given): a planned
    partition whose last success is no longer the one it holds was made by another run
    meanwhile, and is skipped as done elsewhere. Setting ``cancel`` (from another thread) stops
    the run as Ctrl-C does. Steps run where ``[executor]`` says (see
    :mod:`assetflow.runner.executors`; :meth:`Workspace.with_executor` overrides it).
    """
    config = workspace.config
    workers = workers or config.executor.workers
    # Started before the run is recorded: an executor that cannot start (a Dask scheduler
    # out of reach, a worker that cannot import the project) is a clear error, not a run.
    step_executor = _start_executor(workspace, plan, workers)
    try:
        return _execute(
            workspace,
            plan,
            scope,
            kind=kind,
            workers=workers,
            fail_fast=fail_fast,
            observer=observer,
            backfill_id=backfill_id,
            extra_arguments={
                **(extra_arguments or {}),
                **(step_executor.details if step_executor is not None else {}),
            },
            snapshot=snapshot,
            cancel=cancel,
            step_executor=step_executor,
        )
    finally:
        if step_executor is not None:
            step_executor.close()


def placement(workspace: Workspace, plan: Plan) -> dict[str, str]:
    """Where each asset of ``plan`` runs: ``coordinator`` (this process: always with the
    threads executor, and for steps that read or write the warehouse), else the executor kind
    (``processes``, ``dask``)."""
    from assetflow.planner.steps import step_assets

    kind = workspace.config.executor.kind
    if kind == "threads":  # everything here, without importing how steps run
        return dict.fromkeys(step_assets(plan.steps), "coordinator")
    from assetflow.runner.attempt import runs_in_coordinator

    graph = workspace.graph
    where: dict[str, str] = {}
    for asset in step_assets(plan.steps):  # not a step object per step of a step range
        here = runs_in_coordinator(graph, graph[asset])
        where[asset] = "coordinator" if here else kind
    return where


def _start_executor(workspace: Workspace, plan: Plan, workers: int) -> StepExecutor | None:
    """The run's executor; None when every step runs here anyway (the warehouse's steps)."""
    from assetflow.runner.attempt import runs_in_coordinator
    from assetflow.runner.executors import start_executor

    config = workspace.config
    kind = config.executor.kind
    check_executor(kind)
    graph = workspace.graph
    if kind == "threads" or all(
        runs_in_coordinator(graph, graph[step.asset]) for step in plan.steps
    ):
        return None
    return start_executor(kind, str(config.path), workers, config.executor.address)


def _execute(
    workspace: Workspace,
    plan: Plan,
    scope: Scope,
    *,
    kind: str,
    workers: int,
    fail_fast: bool,
    observer: RunObserver | None,
    backfill_id: str | None,
    extra_arguments: dict[str, Any],
    snapshot: StateSnapshot | None,
    cancel: threading.Event | None,
    step_executor: StepExecutor | None,
) -> RunResult:
    from assetflow import __version__
    from assetflow.io import Warehouse
    from assetflow.runner.events import Listeners
    from assetflow.runner.interrupts import deferred_interrupts
    from assetflow.runner.leases import LeaseKeeper
    from assetflow.runner.output import routed_output
    from assetflow.runner.run import PlanRunner, RunCancelled, RunOptions
    from assetflow.runner.step import LatestVersions, StepEnvironment
    from assetflow.store.recorder import Recorder

    store = workspace.store
    if snapshot is None:
        snapshot = store.snapshot(workspace.graph.assets)
    started = utcnow()
    run = RunRecord(
        run_id=new_run_id(started),
        kind=str(kind),
        selection=scope.describe(),
        arguments={**scope.arguments(), **(extra_arguments or {})},
        status=RunStatus.RUNNING,
        started_at=started,
        host=this_host(),
        pid=this_pid(),
        version=__version__,
        backfill_id=backfill_id,
    )
    latest = {
        node: (state.last_success.materialization_id, state.last_success.data_version)
        for node, state in snapshot.items()
        if state.last_success is not None
    }
    config = workspace.config
    # Who hears of the run: the caller's observer (the CLI's progress), then the project's
    # listeners (alerts, the user's own), each guarded so that none can fail the run.
    events = Listeners([observer, *workspace.listeners])
    with deferred_interrupts(cancel) as cancel_event, routed_output():
        warehouse = Warehouse(
            config.warehouse_path,
            wait_limit=config.storage.lock_timeout_s,
            cancel=cancel_event,  # Ctrl-C also stops a wait for the file
            run_of=lambda pid: _live_run_of(store, pid),  # names a holding run
        )
        store.record_crashed()  # runs that died without a word are crashed, not running
        recorder = Recorder(store, heartbeat_run=run.run_id)
        recorder.add(runs_started=[run])
        recorder.flush()  # the run is visible to other processes at once
        env = StepEnvironment(
            graph=workspace.graph,
            run_id=run.run_id,
            warehouse=warehouse,
            data_dir=config.data_root,
            recorder=recorder,
            latest=LatestVersions(latest),
            existing=ExistingKeys(workspace.graph, plan.created_at),
            cancel=cancel_event,
            root=workspace.root,
            events=events,
            executor=step_executor,
        )
        options = RunOptions(workers=workers, fail_fast=fail_fast, pools=config.pools)
        status = RunStatus.CRASHED
        try:
            # Claimed after the run is recorded, so that no claim names an unknown run.
            steps = [step.node for step in plan.steps]
            # What the plan read decides what counts as made elsewhere since; a plan made by
            # hand has no such record, and then the snapshot read for the run stands in.
            seen = (
                plan.seen
                if plan.seen is not None
                else {n: latest.get(n, (None,))[0] for n in steps}
            )
            leases = LeaseKeeper(store, run.run_id, steps, seen)
            result = PlanRunner(env, plan, options, events, leases).run()
            status = result.status
        except (RunCancelled, KeyboardInterrupt):  # KeyboardInterrupt: a forced stop
            status = RunStatus.CANCELLED
            raise
        finally:
            recorder.add(runs_ended=[(run.run_id, status, utcnow())])
            try:
                recorder.close()
            finally:
                _close_warehouse(warehouse)
    return replace(
        result, backfill_id=backfill_id, waiting=tuple(step.name for step in plan.waiting)
    )


def _live_run_of(store: StateStore, pid: int) -> str | None:
    """The id of the live run on this host whose process is ``pid``, if any."""
    host = this_host()
    return next((r.run_id for r in store.live_runs() if r.pid == pid and r.host == host), None)


def _close_warehouse(warehouse: Any) -> None:
    """Close the run's warehouse; a timed-out function may still hold a cursor on it."""
    try:
        warehouse.close()
    except Exception as exc:
        import logging

        logging.getLogger("assetflow").warning("warehouse not closed cleanly: %s", exc)


def check_executor(kind: str) -> None:
    """Refuse an executor kind that does not exist, or whose extra is not installed
    (RunError, exit 2)."""
    from assetflow.runner.executors import EXECUTORS

    if kind not in EXECUTORS:
        raise RunError(f"unknown executor '{kind}' (expected one of: {', '.join(EXECUTORS)})")
    if kind == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise RunError(
                "executor 'dask' needs Dask's distributed scheduler: pip install 'assetflow[dask]'"
            )
