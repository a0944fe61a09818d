"""Executors through the real command line: bad addresses, workers that cannot import the
project, kill -9 of the coordinator, Ctrl-C. Real subprocesses, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import cli_env, run_cli, run_python, write_project

TOML = """
[project]
name = "cli-executors"
modules = ["pipeline"]

[executor]
workers = 2
"""

PIPELINE = """
import os
import time
from pathlib import Path

from assetflow import DailyPartitions, asset

HERE = Path(__file__).parent
DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")


@asset(partitions=DAYS, io="parquet")
def slow(context):
    (HERE / "started").mkdir(exist_ok=True)
    (HERE / "started" / context.partition_key).write_text(str(os.getpid()))
    while (HERE / "hold").exists():
        time.sleep(0.05)
    return context.warehouse.sql("select 1 as n")
"""

# Imports on the coordinator, not in a worker process (a package only the laptop has).
WORKER_ONLY_BREAK = """
import multiprocessing

if multiprocessing.parent_process() is not None:
    import a_package_the_workers_lack  # noqa: F401
"""


def make(tmp_path: Path, extra: str = "") -> Path:
    return write_project(tmp_path / "project", TOML, {"pipeline.py": extra + PIPELINE})


# The real command line with the executor's connect timeout cut from 10 s to 1 s: Dask retries
# a refused connection until the timeout, which here is only waiting.
SHORT_CONNECT = """\
import sys

import assetflow.runner.dask_executor as dask_executor

assert dask_executor.CONNECT_TIMEOUT_S == 10.0  # renamed or changed: update this wrapper
dask_executor.CONNECT_TIMEOUT_S = 1.0
sys.argv[0] = "assetflow"
from assetflow.cli import main

main()
"""


def test_an_unreachable_scheduler_is_exit_2_naming_its_address(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    root = make(tmp_path)
    code, _, err = run_python(
        SHORT_CONNECT, root, timeout=90, args=["materialize", "--address", "tcp://127.0.0.1:9"]
    )
    assert code == 2, err
    assert "after 1 s" in err  # the wrapper's timeout: the executor asked Dask to connect
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert "Traceback" not in err
    assert json.loads(run_cli(["runs", "--json"], root)[1])["runs"] == []  # no run recorded


def test_an_address_needs_the_dask_executor(tmp_path: Path) -> None:
    code, _, err = run_cli(
        ["materialize", "--executor", "processes", "--address", "tcp://x:1"], make(tmp_path)
    )
    assert code == 2 and "--address is only for the dask executor" in err


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_workers_that_cannot_import_the_project_are_named_before_any_step(
    executor: str, tmp_path: Path
) -> None:
    if executor == "dask":
        pytest.importorskip("distributed")
    root = make(tmp_path, WORKER_ONLY_BREAK)
    code, _, err = run_cli(["materialize", "--executor", executor], root, timeout=120)
    assert code == 2, err
    assert "cannot run the project's steps" in err
    assert "a_package_the_workers_lack" in err
    assert "worker" in err.lower()
    assert not (root / "started").exists()
    assert json.loads(run_cli(["runs", "--json"], root)[1])["runs"] == []


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _wait(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_kill_9_of_the_coordinator_takes_its_workers_and_the_next_run_finishes(
    executor: str, tmp_path: Path
) -> None:
    if executor == "dask":
        pytest.importorskip("distributed")
    root = make(tmp_path)
    (root / "hold").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "--executor", executor],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: len(list((root / "started").glob("*"))) == 2, "two steps on workers")
        workers = {int(path.read_text()) for path in (root / "started").iterdir()}
        assert proc.pid not in workers and set(_children(proc.pid)) >= workers
        proc.kill()
        proc.wait(10)
        _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers gone")
    finally:
        if proc.poll() is None:
            proc.kill()
    (root / "hold").unlink()
    runs = json.loads(run_cli(["runs", "--json"], root)[1])["runs"]
    assert [r["status"] for r in runs] == ["crashed"]
    code, out, err = run_cli(["materialize", "--executor", executor, "--json"], root, timeout=120)
    assert code == 0, err
    assert json.loads(out)["status"] == "success"
    code, out, _ = run_cli(["status", "--json"], root)
    assert json.loads(out)["assets"][0]["counts"]["fresh"] == 4


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_ctrl_c_cancels_a_run_on_workers(executor: str, tmp_path: Path) -> None:
    if executor == "dask":
        pytest.importorskip("distributed")
    root = make(tmp_path)
    (root / "hold").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "--executor", executor, "--json"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: len(list((root / "started").glob("*"))) == 2, "two steps on workers")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        (root / "hold").unlink()  # the running steps end; nothing new starts
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    document = json.loads(out)
    assert document["status"] == "cancelled"
    statuses = {s["partition"]: s["status"] for s in document["steps"]}
    assert sorted(statuses.values()).count("success") == 2
    assert "skipped" in statuses.values()
    assert os.listdir(root / "started") and len(os.listdir(root / "started")) == 2


HOSTILE = """
import threading

from assetflow import CheckResult, asset, check


@asset(io="none")
def odd(context):
    print("odd \\x00 bytes \\udcff and \\u202e text")
    context.add_metadata({"lock": threading.Lock(), "gen": (i for i in range(3)), 1: {2, 3}})


@check(asset="odd")
def odd_check(odd):
    return CheckResult(passed=False, metadata={"lock": threading.Lock()})
"""


@pytest.mark.parametrize("executor", ["threads", "processes", "dask"])
def test_whatever_an_asset_puts_in_its_outcome_comes_back_from_a_worker(
    executor: str, tmp_path: Path
) -> None:
    """Metadata and check results that cannot be pickled (a lock, a generator) are recorded
    as readable text, as with threads: never a worker lost over the asset's own values."""
    if executor == "dask":
        pytest.importorskip("distributed")
    root = write_project(tmp_path / "project", TOML, {"pipeline.py": HOSTILE})
    code, out, err = run_cli(["materialize", "--executor", executor, "--json"], root, timeout=120)
    assert code == 0, err
    (step,) = json.loads(out)["steps"]
    assert step["status"] == "success", step
    code, out, _ = run_cli(["run", "show", json.loads(out)["run_id"], "--json"], root)
    assert code == 0
    (attempt,) = json.loads(out)["attempts"]
    assert "<unlocked _thread.lock object" in attempt["metadata"]["lock"]
    assert attempt["metadata"]["1"] == [2, 3]
    code, out, _ = run_cli(["logs", "odd", "--json"], root)
    assert "odd \\x00 bytes" in out or "odd \\u0000 bytes" in out


def test_plan_says_where_each_asset_runs(tmp_path: Path) -> None:
    root = make(tmp_path)
    code, out, err = run_cli(["plan", "--executor", "processes"], root)
    assert code == 0, err
    assert "runs on processes: slow" in out
    code, out, _ = run_cli(["plan", "--json"], root)  # [executor] says threads
    assert json.loads(out)["runs_on"] == {"slow": "coordinator"}
    code, out, _ = run_cli(["plan", "--json", "--address", "tcp://127.0.0.1:9"], root)
    assert json.loads(out)["runs_on"] == {"slow": "dask"}  # planning contacts no cluster

    tables = write_project(
        tmp_path / "tables",
        TOML,
        {
            "pipeline.py": "from assetflow import asset\n\n@asset\ndef t(context):\n"
            "    return context.warehouse.sql('select 1 as n')\n"
        },
    )
    code, out, err = run_cli(["plan", "--executor", "dask"], tables)
    assert code == 0, err
    assert "runs in this process: every step uses the warehouse (none goes to dask)" in out
