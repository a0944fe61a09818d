"""A warehouse held open by another program (issue 13, item 10).

A real process holds the warehouse file open read-write (as a DuckDB shell or a BI tool does).
``materialize`` says within seconds, in one line, what it waits for (the file, the holder's PID)
and how to stop waiting (Ctrl-C, ``[storage] lock_timeout``); past the limit its steps fail
naming the file (exit 1); Ctrl-C stops the wait at once (exit 130).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, cli_env, run_cli, write_project

from assetflow.io.warehouse import format_seconds, lock_holder

PIPELINE = """
import pyarrow as pa
from assetflow import asset

@asset
def orders():
    return pa.table({"n": [1, 2, 3]})
"""

HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """The warehouse path of a project, held open read-write by another process (its pid)."""
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield warehouse, holder.pid
    finally:
        holder.kill()
        holder.wait()


def _project(root: Path, limit: str) -> Path:
    return write_project(
        root, PROJECT_HEADER + f'\n[storage]\nlock_timeout = "{limit}"\n', pipeline=PIPELINE
    )


def _notice(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("waiting for the warehouse")]


def test_a_held_warehouse_is_named_then_the_step_fails_at_the_limit(
    tmp_path: Path, held: tuple[Path, int]
) -> None:
    warehouse, pid = held
    root = _project(tmp_path, "2s")
    code, out, err = run_cli(["materialize", "orders"], root)
    assert code == 1, (out, err)
    assert "Traceback" not in err
    [notice] = _notice(err)
    assert str(warehouse) in notice and f"PID {pid}" in notice
    assert "another program" in notice and "Ctrl-C" in notice
    assert "lock_timeout" in notice and "2s" in notice
    assert "stayed locked by another program (" in out and str(warehouse) in out
    # Nothing was recorded as made.
    code, out, _ = run_cli(["status", "--json", "--partitions"], root)
    assert '"status": "failed"' in out


def test_ctrl_c_stops_the_wait(tmp_path: Path, held: tuple[Path, int]) -> None:
    root = _project(tmp_path, "10m")
    run = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "orders"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stderr is not None
        line = run.stderr.readline()  # the notice: it is waiting now
        if not line.startswith("waiting for the warehouse"):
            run.kill()
            pytest.fail(line + run.stderr.read())
        assert "10m" in line
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)  # far less than the 10 minutes it would wait
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 130, (out, err)
    assert "Traceback" not in err


def test_the_holder_is_named_from_duckdb_s_message() -> None:
    message = (
        'IO Error: Could not set lock on file "/w.duckdb": Conflicting lock is held in '
        "/usr/bin/duckdb (PID 999999999). See also https://duckdb.org/docs"
    )
    assert lock_holder(message) == "another program (/usr/bin/duckdb, PID 999999999)"
    assert lock_holder("IO Error: Could not set lock on file") == "another program"
    assert [format_seconds(s) for s in (600, 3600, 90, 2.5)] == ["10m", "1h", "90s", "2.5s"]


def test_the_limit_must_be_a_positive_duration(tmp_path: Path) -> None:
    root = _project(tmp_path, "0s")
    code, _, err = run_cli(["status"], root)
    assert code == 2
    assert "storage.lock_timeout" in err and len(err.strip().splitlines()) == 1


SLOW = """
import time
import pyarrow as pa
from assetflow import asset

@asset
def slow(context):
    context.warehouse.execute("SELECT 1").fetchall()  # holds the warehouse while it sleeps
    open("holding", "w").close()
    time.sleep(6)
    return pa.table({"n": [1]})

@asset
def quick():
    return pa.table({"n": [2]})
"""


def test_a_run_holding_the_warehouse_is_named_by_its_id(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT_HEADER, pipeline=SLOW)
    first = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "slow"],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        started = first.stdout.readline()  # "run ID: 1 step(s)", printed once it is recorded
        run_id = started.split()[1].rstrip(":")
        for _ in range(600):  # until its step holds the warehouse (bounded: 60 s)
            if (root / "holding").exists():
                break
            time.sleep(0.1)
        code, out, err = run_cli(["materialize", "quick"], root)
        first_out, first_err = first.communicate(timeout=60)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 0, first_out + first_err
    assert code == 0, (out, err)
    [notice] = _notice(err)
    assert f"assetflow run {run_id} (PID {first.pid}; it lets go between its steps)" in notice
