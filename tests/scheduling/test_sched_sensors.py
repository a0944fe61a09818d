"""Sensors: eager assets downstream of a source run when its file lands or changes, once.

Real project, real files, real state file; the scheduler's clock is injected (the days of
January 2024 are long due, so only the files decide). Two schedulers evaluate the same
landing at once in the last test: each change is acted on once between them.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

from helpers import PROJECT_HEADER, ProjectFactory

from assetflow.application.project import Project
from assetflow.records import RunKind, utcnow
from assetflow.scheduling import ManualClock, Scheduler

TOML = (
    PROJECT_HEADER
    + """
[sources.landing]
path = "landing/{partition}.csv"
partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }
"""
)

PIPELINE = """
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")

@asset(partitions=DAYS, automation="eager")
def loaded(context, landing):
    return context.warehouse.sql("select * from read_csv_auto($p)", params={"p": str(landing)})

@asset(partitions=DAYS, automation="eager")
def summed(loaded):
    return loaded.aggregate("sum(amount) as amount")

@asset(partitions=DAYS)
def report(summed):
    return summed
"""


def land(root: Path, day: str, rows: str = "1,10\n") -> None:
    path = root / "landing" / f"{day}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("id,amount\n" + rows)


def automation_successes(project: Project) -> Counter[str]:
    """How often each partition was made by automation runs."""
    store = project.store
    made: Counter[str] = Counter()
    for summary in store.runs(limit=100):
        if summary.run.kind != RunKind.AUTOMATION:
            continue
        for step in store.run_steps(summary.run.run_id):
            if step.status.value == "success":
                made[f"{step.asset}[{step.partition}]"] += 1
    return made


def test_a_landing_file_runs_exactly_its_downstream_once(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(TOML, pipeline=PIPELINE)
    project = Project.load(root)
    scheduler = Scheduler(project, clock=ManualClock(utcnow()))
    assert scheduler.evaluate().automation is None  # nothing has landed: everything waits

    land(root, "2024-01-02")
    first = scheduler.evaluate().automation
    assert first is not None and first.status == "success"
    assert automation_successes(project) == Counter(["loaded[2024-01-02]", "summed[2024-01-02]"])
    assert scheduler.evaluate().automation is None  # acted on once

    # The file is replaced: exactly the partitions reading it run again, each eager asset
    # once its upstream is done (summed on the next evaluation: eager assets follow their
    # upstream, they do not run ahead of it); report (not eager) never runs.
    land(root, "2024-01-02", "1,10\n2,5\n")
    os.utime(root / "landing" / "2024-01-02.csv", ns=(10**18, 10**18))
    second = scheduler.evaluate().automation
    assert second is not None and second.status == "success"
    assert automation_successes(project) == Counter(
        {"loaded[2024-01-02]": 2, "summed[2024-01-02]": 1}
    )
    third = scheduler.evaluate().automation
    assert third is not None and third.status == "success"
    assert automation_successes(project) == Counter(
        {"loaded[2024-01-02]": 2, "summed[2024-01-02]": 2}
    )
    assert scheduler.evaluate().automation is None
    statuses = {r.node: r.status.value for r in project.status("report")}
    assert statuses[("report", "2024-01-02")] == "missing"


def test_two_schedulers_act_on_one_landing_once(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(TOML, pipeline=PIPELINE)
    projects = [Project.load(root), Project.load(root)]
    schedulers = [Scheduler(p, clock=ManualClock(utcnow())) for p in projects]
    for day in ("2024-01-01", "2024-01-03", "2024-01-04"):
        land(root, day)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def evaluate(scheduler: Scheduler) -> None:
        try:
            start.wait()
            scheduler.evaluate()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    made = automation_successes(projects[0])
    expected = {f"{a}[2024-01-0{d}]" for a in ("loaded", "summed") for d in (1, 3, 4)}
    assert set(made) == expected
    assert all(count == 1 for count in made.values()), made
    for scheduler in schedulers:
        assert scheduler.evaluate().automation is None
