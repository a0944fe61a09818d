"""A hostile pass over the fixes of issue 13, through the real CLI in subprocesses.

Each test here is a promise that still breaks on main (marked ``xfail(strict=True)`` with the
defect as its reason, so the suite stays green and the test fails loudly once the defect is
fixed and the mark should go), or a case that held and is worth keeping:

- an asset that closes ``sys.stdout`` (without ``--json``) or ``sys.stderr`` (with ``--json``)
  ends the command (traceback or "lost sys.stderr", exit 1, no JSON document) and leaves its
  run ``crashed``, where bad asset code should fail its step only;
- the state file deleted while a run goes on: the next write makes a fresh state file, the
  run's later successes land there orphaned (no run row: ``runs`` says "no runs yet"), its end
  updates nothing, and it prints ``success`` and exits 0;
- the same with a second run waiting for the first one's partition: the waiting run finds no
  lease in the fresh file and makes the partition while the first run is still making it;
- the warehouse deleted while a run goes on: the run keeps writing into the deleted file and
  records successes whose data is nowhere (the next ``status`` calls them ``data_missing``);
- Ctrl-C while steps wait for a warehouse another program holds: the first step says it
  stopped waiting, the others fail with "stayed locked ... for 0s ([storage] lock_timeout) ...
  raise the limit", blaming a limit of 10 minutes that was never reached;
- a ``backfill --missing-only`` whose missing partitions another run made before
  ``backfill resume`` ends ``success`` with progress short of its total (2/6), where partitions
  another run made while the backfill ran count as done;
- bytes written to ``sys.stdout.buffer`` by an asset are not stored with its step, where its
  ``print()`` output is.

Waits are event-driven: the gated asset writes ``gate`` when it is reached and waits for the
test to write ``release``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from helpers import ProjectFactory, cli_env, run_cli

GATED = """\
import pathlib
import time

from assetflow import asset

HERE = pathlib.Path(__file__).resolve().parent


@asset
def first(context):
    return context.warehouse.sql("select 1 as n")


@asset(deps=["first"])
def gated(context):
    (HERE / "gate").write_text(context.run_id)
    deadline = time.monotonic() + 15
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return context.warehouse.sql("select 2 as n")
"""

CLOSES_STREAM = """\
import os
import sys

from assetflow import asset


@asset
def closer(context):
    getattr(sys, os.environ["AF_STREAM"]).close()


@asset(deps=["closer"])
def after(context):
    print("after prints")
"""

BUFFER_WRITES = """\
import sys

from assetflow import asset


@asset
def noisy(context):
    print("printed line")
    sys.stdout.buffer.write(b"buffer line\\n")
    sys.stdout.flush()
"""


def _runs(root: Path) -> list[dict[str, object]]:
    code, out, err = run_cli(["runs", "--json"], root)
    assert code == 0, err
    runs: list[dict[str, object]] = json.loads(out)["runs"]
    return runs


def _run_with_fault_at_gate(root: Path, fault: str) -> tuple[int, str, str]:
    """``materialize`` the gated project; while its ``gated`` step waits, delete ``fault``
    (a path relative to ``root``, with its DuckDB ``.wal``); then release the step."""
    out_path, err_path = root / "run.out", root / "run.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "assetflow", "materialize"],
            cwd=root,
            stdout=out,
            stderr=err,
            env=cli_env(),
        )
    try:
        deadline = time.monotonic() + 15
        while not (root / "gate").exists():
            assert process.poll() is None, err_path.read_text()
            assert time.monotonic() < deadline, "the gated step never started"
            time.sleep(0.02)
        for path in (root / fault, root / f"{fault}.wal"):
            path.unlink(missing_ok=True)
        (root / "release").write_text("")
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, out_path.read_text(), err_path.read_text()


def _closing(stream: str, flag: str, why: str = "") -> object:
    marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
    return pytest.param(stream, flag, marks=marks, id=f"{stream}{flag or '-text'}")


@pytest.mark.parametrize(
    ("stream", "flag"),
    [
        _closing("stdout", ""),
        _closing("stdout", "--json"),
        _closing("stderr", ""),
        _closing("stderr", "--json"),
    ],
)
def test_an_asset_closing_a_std_stream_fails_at_most_its_step(
    make_project: ProjectFactory, stream: str, flag: str
) -> None:
    root = make_project(pipeline=CLOSES_STREAM)
    completed = subprocess.run(
        [sys.executable, "-m", "assetflow", "materialize", *([flag] if flag else [])],
        cwd=root,
        capture_output=True,
        text=True,
        env={**cli_env(), "AF_STREAM": stream},
        timeout=60,
        check=False,
    )
    code, out, err = completed.returncode, completed.stdout, completed.stderr
    assert "Traceback" not in err, err
    assert code in (0, 1), (code, out, err)
    if flag:
        assert json.loads(out)["status"] in ("success", "failed"), out
    [run] = _runs(root)
    assert run["status"] in ("success", "failed"), run
    assert sum(run["counts"].values()) == 2, run  # type: ignore[attr-defined]


def test_a_state_file_deleted_mid_run_is_noticed(make_project: ProjectFactory) -> None:
    root = make_project(pipeline=GATED)
    code, out, err = _run_with_fault_at_gate(root, ".assetflow/state.duckdb")
    assert "Traceback" not in err, err
    recorded = [run for run in _runs(root) if run["status"] == "success"]
    # Either the run's history is where the project's state is, or the run says it is not.
    assert recorded or (code == 1 and " success" not in out), (code, out, err)


def test_a_warehouse_deleted_mid_run_records_no_success_without_data(
    make_project: ProjectFactory,
) -> None:
    root = make_project(pipeline=GATED)
    code, out, err = _run_with_fault_at_gate(root, "warehouse.duckdb")
    assert "Traceback" not in err, err
    [run] = _runs(root)
    counts: dict[str, int] = run["counts"]  # type: ignore[assignment]
    if counts.get("success", 0) == 2:
        warehouse = root / "warehouse.duckdb"
        assert warehouse.exists(), (code, out, err)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            assert connection.sql("select n from gated").fetchall() == [(2,)]


def test_a_warehouse_deleted_mid_run_is_made_again_by_the_next_materialize(
    make_project: ProjectFactory,
) -> None:
    """What held: the next run notices the data is gone (data_missing) and makes it again."""
    root = make_project(pipeline=GATED)
    _run_with_fault_at_gate(root, "warehouse.duckdb")
    (root / "gate").unlink()
    code, out, err = run_cli(["materialize"], root)
    assert code == 0, err
    assert out.splitlines()[-1].endswith("success: 2 success"), out
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.sql("select n from gated").fetchall() == [(2,)]


def test_bytes_written_to_stdout_buffer_are_stored_with_the_step(
    make_project: ProjectFactory,
) -> None:
    root = make_project(pipeline=BUFFER_WRITES)
    code, out, err = run_cli(["materialize", "--json"], root)
    assert code == 0, err
    assert json.loads(out)["status"] == "success"  # stdout is the document only: that held
    code, logs, err = run_cli(["logs", "noisy"], root)
    assert code == 0, err
    assert "printed line" in logs
    assert "buffer line" in logs


THREE_DAYS = """\
from assetflow import DailyPartitions, asset


@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-01-04"))
def days(context):
    return context.warehouse.sql("select $day as day", params={"day": context.partition_key})
"""


def test_ctrl_c_while_waiting_for_a_locked_warehouse_blames_the_cancel(
    make_project: ProjectFactory,
) -> None:
    root = make_project(pipeline=THREE_DAYS)
    code, _, err = run_cli(["materialize", "--partition", "2024-01-01"], root)
    assert code == 0, err
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); input()",
            str(root / "warehouse.duckdb"),
        ],
        stdin=subprocess.PIPE,
    )
    out_path, err_path = root / "run.out", root / "run.err"
    try:
        with out_path.open("wb") as stdout, err_path.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "assetflow", "materialize", "--workers", "3"],
                cwd=root,
                stdout=stdout,
                stderr=stderr,
                env=cli_env(),
            )
        try:
            deadline = time.monotonic() + 15
            while "waiting for the warehouse" not in err_path.read_text():
                assert process.poll() is None, err_path.read_text()
                assert time.monotonic() < deadline, "no step ever waited for the warehouse"
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        holder.kill()
        holder.wait()
    out = out_path.read_text()
    assert code == 130, (out, err_path.read_text())
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert failed, out
    for line in failed:
        assert "lock_timeout" not in line and "raise the limit" not in line, line


FAILS_ON_A_FLAG = """\
import os

from assetflow import DailyPartitions, asset


@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-01-07"))
def days(context):
    if context.partition_key == os.environ.get("AF_FAIL"):
        raise RuntimeError("failed on purpose")
    return context.warehouse.sql("select $day as day", params={"day": context.partition_key})
"""


def test_a_resumed_missing_only_backfill_counts_what_others_made(
    make_project: ProjectFactory,
) -> None:
    root = make_project(pipeline=FAILS_ON_A_FLAG)
    range_ = ["--from", "2024-01-01", "--to", "2024-01-06"]
    completed = subprocess.run(
        [sys.executable, "-m", "assetflow", "backfill", "days", *range_, "--missing-only"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**cli_env(), "AF_FAIL": "2024-01-03"},
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed
    code, out, err = run_cli(["backfill", "list", "--json"], root)
    assert code == 0, err
    listed = json.loads(out)
    [backfill] = listed["backfills"] if isinstance(listed, dict) else listed
    code, out, err = run_cli(["materialize", "days", *range_], root)
    assert code == 0 and out.splitlines()[-1].endswith("success: 1 success"), (out, err)
    code, out, err = run_cli(["backfill", "resume", backfill["backfill_id"]], root)
    assert code == 0, err
    code, out, err = run_cli(["backfill", "list", "--json"], root)
    listed = json.loads(out)
    [backfill] = listed["backfills"] if isinstance(listed, dict) else listed
    assert backfill["status"] == "success", backfill
    assert backfill["done"] == backfill["total"] == 6, backfill


TICKETS = """\
import os
import pathlib
import time

from assetflow import DailyPartitions, asset

HERE = pathlib.Path(__file__).resolve().parent


@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-01-07"), io="none")
def ticket(context):
    if context.partition_key == os.environ.get("AF_GATE"):
        (HERE / "gate").write_text(context.run_id)
        deadline = time.monotonic() + 15
        while not (HERE / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    with open(HERE / "bodies.log", "a") as log:
        log.write(f"{context.partition_key} {context.run_id}\\n")
"""


def _bodies(root: Path) -> list[str]:
    path = root / "bodies.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_state_file_deleted_mid_run_lets_no_run_take_a_held_partition(
    make_project: ProjectFactory,
) -> None:
    root = make_project(pipeline=TICKETS)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args, env in (
            (["--partition", "2024-01-05"], {"AF_GATE": "2024-01-05"}),
            (["--from", "2024-01-01", "--to", "2024-01-06"], {}),
        ):
            log = (root / f"run{len(started)}.out").open("wb")
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "assetflow", "materialize", "ticket", *args],
                    cwd=root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**cli_env(), **env},
                )
            )
            log.close()
            if not (root / "gate").exists():
                deadline = time.monotonic() + 15
                while not (root / "gate").exists():
                    assert time.monotonic() < deadline, "the gated step never started"
                    time.sleep(0.02)
        # Run B has made the other five partitions and waits for the held one.
        deadline = time.monotonic() + 15
        while len(_bodies(root)) < 5:
            assert time.monotonic() < deadline, (root / "run1.out").read_text()
            time.sleep(0.05)
        for path in (
            root / ".assetflow" / "state.duckdb",
            root / ".assetflow" / "state.duckdb.wal",
        ):
            path.unlink(missing_ok=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and started[1].poll() is None:
            time.sleep(0.05)
        made = _bodies(root)
        (root / "release").write_text("")
        for process in started:
            process.wait(timeout=15)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    # While run A held 2024-01-05, nobody else made it.
    assert not any(line.startswith("2024-01-05") for line in made), made
