"""Ctrl-C while a step is still running: the first asks, the second insists.

Real subprocesses and real signals. The first SIGINT stops new steps and waits for the running
one (saying so); a step that ends within that grace is recorded as what it was. A second SIGINT
stops the command at once even though a step never returns: exit 130, the run recorded
``cancelled`` with its end, the unfinished step never recorded as succeeded.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from helpers import write_project
from test_robust_crash import Running, state_query

TOML = """\
[project]
name = "cancel"
modules = ["pipeline"]

[executor]
workers = 2
"""

PIPELINE = """\
import pathlib
import time

import pyarrow as pa


@asset
def slow():
    pathlib.Path("slow.started").touch()
    time.sleep(SLEEP)
    return pa.table({"n": [1]})


@asset
def after_slow(slow):
    return slow
"""


def make_project(root: Path, sleep: float) -> Path:
    source = f"from assetflow import asset\nSLEEP = {sleep!r}\n{PIPELINE}"
    return write_project(root, TOML, pipeline=source)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def cancelling(lines: list[str]) -> bool:
    return any(line.startswith("cancelling: waiting for 1 running step(s)") for line in lines)


def test_second_sigint_stops_at_once(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", sleep=600.0)
    running = Running(["materialize", "slow+"], project)
    run_id = running.wait_started()
    wait_for(project / "slow.started")
    running.proc.send_signal(signal.SIGINT)
    running.wait_until("the cancelling notice", cancelling)
    time.sleep(1.0)
    assert running.proc.poll() is None, "the first Ctrl-C waits for the running step"
    asked = time.monotonic()
    running.proc.send_signal(signal.SIGINT)
    assert running.finish() == 130, running.text
    assert time.monotonic() - asked < 15, "the second Ctrl-C stops the command at once"
    assert "Traceback" not in running.text
    ((status, ended),) = state_query(
        project, "select status, ended_at from runs where run_id = ?", [run_id]
    )
    assert status == "cancelled" and ended is not None
    successes = state_query(project, "select asset from materializations where status='success'")
    assert successes == []


def test_a_step_ending_within_the_grace_is_recorded(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", sleep=2.0)
    running = Running(["materialize", "slow+"], project)
    run_id = running.wait_started()
    wait_for(project / "slow.started")
    running.proc.send_signal(signal.SIGINT)
    running.wait_until("the cancelling notice", cancelling)
    assert running.finish() == 130, running.text
    assert "Traceback" not in running.text
    rows = state_query(
        project,
        "select asset, status, reason from materializations where run_id = ? order by asset",
        [run_id],
    )
    assert rows == [("after_slow", "skipped", "run cancelled"), ("slow", "success", None)]
    ((status,),) = state_query(project, "select status from runs where run_id = ?", [run_id])
    assert status == "cancelled"
