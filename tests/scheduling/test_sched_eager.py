"""Eager automation over a real project: what triggers a run, and what does not."""

from __future__ import annotations

from pathlib import Path

from helpers import ProjectFactory

from assetflow.application.project import Project
from assetflow.records import RunKind, utcnow
from assetflow.scheduling import ManualClock, Scheduler

PIPELINE = """
from pathlib import Path

from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")
VALUE = Path(__file__).with_name("value.txt")

@asset(partitions=DAYS)
def raw(context):
    return context.warehouse.sql(f"select {int(VALUE.read_text())} as v")

@asset(partitions=DAYS, automation="eager")
def clean(raw):
    return raw.select("v * 2 as v")

@asset(partitions=DAYS)
def report(clean):
    return clean
"""

# Real time (runs compare their own records with it); the four days of January 2024 are due.


def automation_steps(project: Project, run_id: str | None) -> list[str]:
    assert run_id is not None
    run = project.store.run(run_id)
    assert run is not None and run.kind == RunKind.AUTOMATION
    # Sorted: the steps of one run start on several workers, in no fixed order.
    return sorted(f"{m.asset}[{m.partition}]" for m in project.store.run_steps(run_id))


def test_eager_follows_upstream_changes_and_only_them(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=PIPELINE)
    (root / "value.txt").write_text("1")
    project = Project.load(root)
    scheduler = Scheduler(project, clock=ManualClock(utcnow()))
    assert scheduler.eager == ["clean"]

    # Upstream missing: the missing eager partitions wait for it.
    assert scheduler.evaluate().automation is None

    # Upstream done: every missing partition of clean runs, and nothing else (not report).
    project.materialize("raw", first="2024-01-01", last="2024-01-03")
    first = scheduler.evaluate().automation
    assert first is not None and first.status == "success"
    assert automation_steps(project, first.run_id) == [
        "clean[2024-01-01]",
        "clean[2024-01-02]",
        "clean[2024-01-03]",
    ]
    assert scheduler.evaluate().automation is None  # done: nothing twice

    # One upstream partition changes its data: exactly the partition reading it runs.
    (root / "value.txt").write_text("2")
    project.materialize(
        "raw",
        partition="2024-01-02",
        force=True,
    )
    second = scheduler.evaluate().automation
    assert second is not None
    assert automation_steps(project, second.run_id) == ["clean[2024-01-02]"]

    # The same data again (early cutoff): nothing is stale, nothing runs.
    project.materialize(
        "raw",
        partition="2024-01-02",
        force=True,
    )
    assert scheduler.evaluate().automation is None

    # raw[2024-01-04] is still missing, and clean waits for it.
    project.materialize("raw", partition="2024-01-04")
    third = scheduler.evaluate().automation
    assert third is not None
    assert automation_steps(project, third.run_id) == ["clean[2024-01-04]"]
    kinds = [s.run.kind for s in project.store.runs(limit=100)]
    assert kinds.count("automation") == 3


def test_eager_does_not_retry_a_failure_in_a_loop(
    make_project: ProjectFactory, clean_imports: None, tmp_path: Path
) -> None:
    root = make_project(pipeline=PIPELINE.replace('raw.select("v * 2 as v")', "1 / 0"))
    (root / "value.txt").write_text("1")
    project = Project.load(root)
    project.materialize(
        "raw",
        partition="2024-01-01",
    )
    scheduler = Scheduler(project, clock=ManualClock(utcnow()))
    failed = scheduler.evaluate()
    assert failed.automation is not None and failed.automation.status == "failed"
    assert failed.failed
    assert scheduler.evaluate().automation is None
