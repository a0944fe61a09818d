"""Exactly once across runs: a run never makes again a partition another run made after this
run read history, whenever that other run's batching recorder commits its success.

The race (issue 13, item 1): run A's step ends at ``t_end``; run B reads history at
``read_at > t_end`` but before A's recorder commits the success; B plans the partition. When
A's success becomes durable, B must see it as made elsewhere. Comparing A's step end time
with B's read time (``t_end < read_at``) took it for an older success and made it again.
What counts is whether the success B sees under its lease is the one its plan read.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from helpers import ProjectFactory
from store_factories import make_m, make_run

from assetflow import Project
from assetflow.records import (
    PartitionStatus,
    RunRecord,
    RunStatus,
    StepStatus,
    new_run_id,
    this_host,
    utcnow,
)
from assetflow.runner.leases import LeaseKeeper
from assetflow.store import StateStore

NODE = ("orders", "2024-01-01")


def _seen(store: StateStore) -> dict[tuple[str, str], int | None]:
    """The last success ids B's plan read, as the planner's snapshot holds them."""
    state = store.snapshot().get(NODE)
    last = state.last_success if state is not None else None
    return {NODE: last.materialization_id if last is not None else None}


def _a_run_with_a_step_that_ended(store: StateStore, seconds_ago: float) -> tuple[str, object]:
    run_a = make_run(started=0)
    store.append(runs_started=[run_a])
    assert store.acquire_leases(run_a.run_id, [NODE]) == {}
    ended = utcnow() - timedelta(seconds=seconds_ago)
    success = make_m(run_a.run_id, *NODE)
    success = type(success)(
        **{**success.__dict__, "started_at": ended - timedelta(seconds=1), "ended_at": ended}
    )
    return run_a.run_id, success


def test_a_success_committed_after_the_read_is_made_elsewhere_when_claimed(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run_a, success = _a_run_with_a_step_that_ended(store, seconds_ago=1.0)
    # B reads history now: A's step has ended, its success is not committed yet.
    seen = _seen(store)
    assert seen == {NODE: None}
    store.append(materializations=[success])  # A's recorder commits (and lets go of the lease)
    run_b = make_run(started=1)
    store.append(runs_started=[run_b])

    keeper = LeaseKeeper(store, run_b.run_id, [NODE], seen=seen)

    assert [(f.node, f.by) for f in keeper.done_elsewhere] == [(NODE, run_a)]


def test_a_success_committed_while_waiting_on_the_lease_is_made_elsewhere(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run_a, success = _a_run_with_a_step_that_ended(store, seconds_ago=1.0)
    seen = _seen(store)
    run_b = make_run(started=1)
    store.append(runs_started=[run_b])
    keeper = LeaseKeeper(store, run_b.run_id, [NODE], seen=seen)
    assert keeper.blocked(NODE)  # A still holds it

    store.append(materializations=[success])  # commits, letting go of the lease
    freed = keeper.poll(force=True)

    assert [(f.node, f.by) for f in freed] == [(NODE, run_a)]
    assert not keeper.blocked(NODE)


def test_a_success_the_plan_read_is_not_made_elsewhere(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    _, success = _a_run_with_a_step_that_ended(store, seconds_ago=60.0)
    store.append(materializations=[success])
    # B's plan read A's success (a forced run, say) after it committed: B makes it itself,
    # however recent that success (time does not decide: which success the plan read does).
    seen = _seen(store)
    assert seen == {NODE: success.id}
    run_b = make_run(started=1)
    store.append(runs_started=[run_b])

    keeper = LeaseKeeper(store, run_b.run_id, [NODE], seen=seen)

    assert keeper.done_elsewhere == []
    assert not keeper.blocked(NODE)


def test_a_failed_attempt_keeps_the_claim_while_its_step_may_retry(tmp_path: Path) -> None:
    """The first attempt failed and is recorded; the step waits to retry. Letting go of the
    partition then would let a waiting run make it while this run's retry makes it too."""
    store = StateStore(tmp_path / "state.duckdb")
    run_a = make_run(started=0)
    store.append(runs_started=[run_a])
    assert store.acquire_leases(run_a.run_id, [NODE]) == {}
    store.append(materializations=[make_m(run_a.run_id, *NODE, StepStatus.FAILED)])

    run_b = make_run(started=1)
    store.append(runs_started=[run_b])
    assert store.acquire_leases(run_b.run_id, [NODE]) == {NODE: run_a.run_id}

    store.append(runs_ended=[(run_a.run_id, RunStatus.FAILED, utcnow())])  # A gives up
    assert store.acquire_leases(run_b.run_id, [NODE]) == {}


def test_a_success_or_a_skip_lets_go_of_the_claim_at_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run_a = make_run(started=0)
    store.append(runs_started=[run_a])
    other = ("orders", "2024-01-02")
    assert store.acquire_leases(run_a.run_id, [NODE, other]) == {}
    store.append(
        materializations=[
            make_m(run_a.run_id, *NODE),
            make_m(run_a.run_id, *other, StepStatus.SKIPPED, reason="upstream failed"),
        ]
    )
    assert store.lease_holders([NODE, other]) == {}


def test_a_fresh_partition_a_live_run_holds_is_not_planned_again(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    # A run claims every partition of its plan, also those it then finds made elsewhere and
    # skips. Such a partition is `running` while claimed, but fresh underneath: another plan
    # must not take it as a step, or (once the holder lets go with no new success) it would
    # find "not made since" and make it again. Seen with 3 materializes and a backfill of the
    # example started together under load.
    root = make_project(
        pipeline="""
        from assetflow import asset

        @asset
        def a(context):
            return context.warehouse.sql("select 1 as x")

        @asset
        def b(a):
            return a
        """
    )
    project = Project.load(root)
    project.materialize("a")
    holder = RunRecord(
        run_id=new_run_id(),
        kind="materialize",
        selection="*",
        arguments={},
        status=RunStatus.RUNNING,
        started_at=utcnow(),
        host=this_host(),
        pid=os.getpid(),
        version="test",
    )
    store = project.store
    store.append(runs_started=[holder])
    assert store.acquire_leases(holder.run_id, [("a", "-")]) == {}
    (shown,) = project.status("a")
    assert shown.status is PartitionStatus.RUNNING  # what status shows is unchanged
    assert [step.name for step in project.plan("+b").steps] == ["b"]
    result = project.materialize("+b")
    assert [(s.name, s.status.value) for s in result.steps] == [("b", "success")]
