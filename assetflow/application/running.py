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
from assetflow.runner.results import RunObserver, RunResult

if TYPE_CHECKING:
    from assetflow.application.operations import Scope
    from assetflow.application.project import Project
    from assetflow.store.store import StateStore

__all__ = ["check_executor", "execute"]


def _store_of(project: Project) -> StateStore:
    from assetflow.store.store import StateStore

    return StateStore(project.config.state_path)


def execute(
    project: Project,
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
    the run as Ctrl-C does.
    """
    from assetflow import __version__
    from assetflow.io import Warehouse
    from assetflow.runner.events import Listeners
    from assetflow.runner.interrupts import deferred_interrupts
    from assetflow.runner.leases import LeaseKeeper
    from assetflow.runner.output import routed_output
    from assetflow.runner.run import PlanRunner, RunCancelled, RunOptions
    from assetflow.runner.step import LatestVersions, StepEnvironment
    from assetflow.store.recorder import Recorder

    store = _store_of(project)
    if snapshot is None:
        snapshot = store.snapshot(project.graph.assets)
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
    config = project.config
    # Who hears of the run: the caller's observer (the CLI's progress), then the project's
    # listeners (alerts, the user's own), each guarded so that none can fail the run.
    events = Listeners([observer, *project.listeners])
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
            graph=project.graph,
            run_id=run.run_id,
            warehouse=warehouse,
            data_dir=config.data_root,
            recorder=recorder,
            latest=LatestVersions(latest),
            existing=ExistingKeys(project.graph, plan.created_at),
            cancel=cancel_event,
            root=project.root,
            events=events,
        )
        options = RunOptions(
            workers=workers or config.executor.workers, fail_fast=fail_fast, pools=config.pools
        )
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
    """Only the threads executor exists in this release."""
    if kind != "threads":
        raise RunError(
            f"executor '{kind}' is not available in this release; use executor.kind = \"threads\""
        )
