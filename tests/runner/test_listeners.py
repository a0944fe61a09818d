"""Run listeners (docs/listeners.md): registered in assets.toml or in Python, told of runs,
steps, checks and freshness violations, and never able to fail a run."""

from __future__ import annotations

from helpers import PROJECT_HEADER, ProjectFactory, run_cli

from assetflow import Project
from assetflow.records import utcnow
from assetflow.runner.events import FreshnessEvent, RunListener
from assetflow.scheduling import ManualClock, Scheduler

PIPELINE = """
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")

@asset(partitions=DAYS)
def orders(context):
    if context.partition_key == "2024-01-02":
        raise ValueError("the export of 2024-01-02 is truncated")
    return context.warehouse.sql("select 1 as id")
"""

# The example of docs/listeners.md, as a user would write it.
HOOKS = """
import threading
from pathlib import Path

from assetflow.runner.events import RunListener


class FailedStepsToFile(RunListener):
    path = Path("failed-steps.log")
    lock = threading.Lock()

    def step_finished(self, result):
        if result.status.value != "failed":
            return
        with self.lock, self.path.open("a", encoding="utf-8") as out:
            out.write(f"{result.name}\\t{result.attempts} attempt(s)\\t{result.error}\\n")


class Broken(RunListener):
    def run_started(self, run_id, plan):
        raise RuntimeError("this listener is broken")
"""


def test_a_listener_in_assets_toml_writes_a_line_per_failed_step(
    make_project: ProjectFactory,
) -> None:
    toml = PROJECT_HEADER.replace(
        'modules = ["pipeline"]',
        'modules = ["pipeline"]\nlisteners = ["hooks:Broken", "hooks:FailedStepsToFile"]',
    )
    root = make_project(toml, {"pipeline.py": PIPELINE, "hooks.py": HOOKS})
    code, out, err = run_cli(["materialize", "orders"], root)
    assert code == 1, (out, err)  # the step's failure, not the broken listener's
    assert "listener Broken failed on run_started: this listener is broken" in err
    lines = (root / "failed-steps.log").read_text().splitlines()
    assert lines == [
        "orders[2024-01-02]\t1 attempt(s)\tValueError: the export of 2024-01-02 is truncated"
    ]


def test_a_bad_listener_entry_is_refused_at_load(make_project: ProjectFactory) -> None:
    for entry, says in [
        ("hooks:Missing", "hooks has no 'Missing'"),
        ("nowhere:Thing", "cannot import nowhere"),
        ("hooks", 'expected "module:Class"'),
        ("hooks:threading", "not a run listener"),
    ]:
        toml = PROJECT_HEADER.replace(
            'modules = ["pipeline"]', f'modules = ["pipeline"]\nlisteners = ["{entry}"]'
        )
        root = make_project(toml, {"pipeline.py": PIPELINE, "hooks.py": HOOKS}, name=entry[:6])
        code, _, err = run_cli(["status"], root)
        assert code == 2 and says in err and "project.listeners[0]" in err, err
        assert "Traceback" not in err


class Heard(RunListener):
    def __init__(self) -> None:
        self.events: list[str] = []

    def run_started(self, run_id: str, plan: object) -> None:
        self.events.append("run_started")

    def step_finished(self, result: object) -> None:
        self.events.append(f"step {getattr(result, 'name', '?')}")

    def check_result(self, record: object) -> None:
        self.events.append(f"check {getattr(record, 'check_name', '?')}")

    def run_finished(self, result: object) -> None:
        self.events.append("run_finished")

    def freshness_violation(self, event: FreshnessEvent) -> None:
        self.events.append(f"{'recovered' if event.recovered else 'overdue'} {event.asset}")


def test_listeners_hear_runs_steps_and_checks_in_order(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(
        PROJECT_HEADER + '\n[assets.orders]\nchecks = ["row_count(min=1)"]\n',
        pipeline=PIPELINE.replace(
            'raise ValueError("the export of 2024-01-02 is truncated")', "pass"
        ),
    )
    project = Project.load(root)
    heard = Heard()
    project.add_listener(heard)
    project.materialize("orders", partition="2024-01-01")
    assert heard.events == [
        "run_started",
        "check row_count",
        "step orders[2024-01-01]",
        "run_finished",
    ]


def test_the_scheduler_announces_freshness_violations_and_recoveries_once(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(
        pipeline="""
        from assetflow import asset

        @asset(io="none", freshness={"max_lag": "1h"})
        def report(context):
            return None
        """
    )
    project = Project.load(root)
    heard = Heard()
    project.add_listener(heard)
    clock = ManualClock(utcnow())
    scheduler = Scheduler(project, clock=clock)
    scheduler.evaluate()
    scheduler.evaluate()  # the same violation: announced once
    assert heard.events == ["overdue report"]
    project.materialize("report")
    scheduler.evaluate()
    assert heard.events[-1] == "recovered report"
    assert heard.events.count("overdue report") == 1
