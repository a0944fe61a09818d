"""``assetflow scheduler`` as a real process: ticks, SIGTERM when idle and mid-run, races."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from helpers import PROJECT_HEADER, REPO_ROOT, cli_env, run_cli, write_project

DEADLINE_S = 60.0


class Scheduler:
    """A ``python -m assetflow scheduler`` subprocess whose stderr lines are collected."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assetflow", "scheduler", *args],
            cwd=cwd,
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"never saw {what}; stderr:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def logged(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def copy_example(destination: Path, select: str) -> Path:
    """The example project (assets.toml and examples/), its schedule selecting ``select``."""
    destination.mkdir()
    shutil.copytree(
        REPO_ROOT / "examples",
        destination / "examples",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    toml = (REPO_ROOT / "assets.toml").read_text(encoding="utf-8")
    start = toml.index("[schedules.")
    end = toml.find("\n[", start + 1)
    schedule = (
        f'[schedules.nightly]\ncron = "0 3 * * *"\ntimezone = "Europe/Berlin"\n'
        f'select = "{select}"\n'
    )
    rest = "" if end == -1 else toml[end:]
    (destination / "assets.toml").write_text(toml[:start] + schedule + rest, encoding="utf-8")
    return destination


def runs_json(root: Path) -> list[dict[str, object]]:
    code, out, err = run_cli(["runs", "--json"], cwd=root)
    assert code == 0, err
    runs: list[dict[str, object]] = json.loads(out)["runs"]
    return runs


def test_scheduler_runs_a_tick_due_in_seconds_then_stops_on_sigterm(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "shop", "daily_revenue")
    # Three seconds before 03:00 in Berlin on 2024-01-03: the latest past tick (the day
    # before) runs at once, then the loop sleeps until 03:00 and runs that tick.
    scheduler = Scheduler(root, "--clock-start", "2024-01-03T02:59:57+01:00")
    try:
        scheduler.wait_for(
            lambda: scheduler.logged("tick nightly 2024-01-03T03:00+01:00: run"),
            "the 03:00 tick's run",
        )
        scheduler.wait_for(
            lambda: scheduler.logged("sleeping until"), "the loop going back to sleep"
        )
        code = scheduler.terminate()
    finally:
        scheduler.stop()
    log = "\n".join(scheduler.lines)
    assert code == 0, log
    assert "tick nightly 2024-01-02T03:00+01:00: run" in log  # the latest past tick, at once
    assert "sleeping until 2024-01-03T03:00+01:00" in log
    assert scheduler.lines[-1].endswith("stopped on SIGTERM"), log
    runs = runs_json(root)
    assert [(r["kind"], r["status"]) for r in runs] == [("schedule", "success")] * 2
    # Each tick materialized the day that ended before it, with the upstream it needed.
    newest, oldest = (r["counts"] for r in runs)
    assert oldest == {"success": 4}  # products, orders, orders_cleaned, daily_revenue
    assert newest == {"success": 3}  # the next day's orders, orders_cleaned, daily_revenue
    code, out, err = run_cli(["status", "daily_revenue", "--json", "--partitions"], cwd=root)
    assert code == 0, err
    materialized = [p["partition"] for p in json.loads(out)["partitions"] if p["status"] == "fresh"]
    assert materialized == ["2024-01-01", "2024-01-02"]


SLOW_PIPELINE = """
import time
from pathlib import Path

from assetflow import asset

@asset(io="none")
def slow(context):
    Path(__file__).with_name("started").touch()
    time.sleep(3)  # a step is awaited, not killed, when its run is cancelled
"""

SLOW_TOML = (
    PROJECT_HEADER
    + """
[schedules.every_minute]
cron = "* * * * *"
select = "slow"
"""
)


def test_sigterm_during_a_run_cancels_it_and_the_scheduler_exits_cleanly(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path / "p", SLOW_TOML, pipeline=SLOW_PIPELINE)
    scheduler = Scheduler(root)
    try:
        scheduler.wait_for((root / "started").exists, "the step starting")
        code = scheduler.terminate()
    finally:
        scheduler.stop()
    log = "\n".join(scheduler.lines)
    assert code == 0, log
    assert "cancelled" in log and "scheduler stopped" in log
    assert [(r["kind"], r["status"]) for r in runs_json(root)] == [("schedule", "cancelled")]
    code, out, err = run_cli(["schedules", "--json"], cwd=root)
    assert code == 0, err
    (listed,) = json.loads(out)["schedules"]
    assert listed["name"] == "every_minute" and listed["last_tick"]["status"] == "cancelled"


FAST_PIPELINE = """
from assetflow import DailyPartitions, asset

@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-01-03"), io="none")
def events(context):
    return None
"""

RACE_TOML = (
    PROJECT_HEADER
    + """
[schedules.daily]
cron = "0 3 * * *"
select = "events"
"""
)


def test_two_scheduler_processes_run_a_tick_once(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", RACE_TOML, pipeline=FAST_PIPELINE)
    args = [sys.executable, "-m", "assetflow", "scheduler", "--once"]
    processes = [
        subprocess.Popen(args, cwd=root, env=cli_env(), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=DEADLINE_S)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], logs
    runs = runs_json(root)
    assert [(r["kind"], r["status"]) for r in runs] == [("schedule", "success")], logs
    ran = [log for log in logs if ": run " in log]
    assert len(ran) == 1, logs
    # Run again: the tick is recorded, nothing runs twice.
    code, _, err = run_cli(["scheduler", "--once"], cwd=root)
    assert code == 0 and ": run " not in err, err
    assert len(runs_json(root)) == 1


def test_bad_clock_start_is_a_usage_error(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", RACE_TOML, pipeline=FAST_PIPELINE)
    code, _, err = run_cli(["scheduler", "--clock-start", "2024-01-03T02:59"], cwd=root)
    assert code == 2
    assert "--clock-start" in err and "UTC offset" in err and "Traceback" not in err
