"""The same run scenario on every executor: threads, a process pool, a Dask cluster.

Statuses, reasons, history, lineage, checks, sources and early cutoff come out the same
whatever runs the steps; steps that need the warehouse (the SQL asset) stay in the coordinating
process, the others run in worker processes (their pids say so). The Dask cases share one
LocalCluster of two worker processes, started by the test module like any external cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from executor_project import DAYS, make_executor_project, write_landing

from assetflow import Project
from assetflow.records import PartitionStatus, ReasonKind, StepStatus

EXECUTORS = ["threads", "processes", "dask"]


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """A LocalCluster of two worker processes for the module (as a team's cluster would be)."""
    pytest.importorskip("distributed")
    import logging

    import dask
    from distributed import LocalCluster

    # As the executor's own local cluster does: a lost worker fails the attempt at once.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def run(project: Project, executor: str, request: pytest.FixtureRequest, **options: Any) -> Any:
    address = request.getfixturevalue("dask_address") if executor == "dask" else None
    return project.materialize(executor=executor, address=address, **options)


def statuses(project: Project) -> dict[str, tuple[PartitionStatus, set[ReasonKind]]]:
    return {
        f"{r.asset}[{r.partition}]": (r.status, {reason.kind for reason in r.reasons})
        for r in project.status()
    }


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_run_scenario_comes_out_the_same_on_every_executor(
    executor: str, tmp_path: Path, clean_imports: None, request: pytest.FixtureRequest
) -> None:
    root = make_executor_project(tmp_path / "project")
    project = Project.load(root)

    first = run(project, executor, request)
    assert first.status == "success", [s.error for s in first.failed]
    assert {s.name for s in first.steps} == {
        f"{asset}[{day}]" for asset in ("raw", "clean", "notify", "totals") for day in DAYS
    }
    assert {status for status, _ in statuses(project).values()} == {PartitionStatus.FRESH}

    # Where steps ran: worker processes for raw (parquet), never this process; the SQL asset
    # reads the warehouse, so it ran here.
    pids = {int((root / "pids" / f"raw-{day}").read_text()) for day in DAYS}
    if executor == "threads":
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids
    _, attempts = project.run(first.run_id)
    workers = {a.asset: a.metadata.get("worker") for a in attempts}
    assert workers["totals"] is None  # the coordinator
    assert (workers["raw"] is None) == (executor == "threads")

    # History: logs and print() of a remote step are recorded with its attempt.
    messages = [line.record.message for line in project.logs("raw", "2024-01-02")]
    assert any(m.startswith("raw in ") for m in messages)
    assert "printed by raw 2024-01-02" in messages
    # Checks: the non-blocking one failed nowhere yet; both ran on every partition.
    assert project.check_warnings(["raw"]) == []

    # Lineage: clean[d] read the raw[d] this run made.
    lineage = project.lineage("clean", "2024-01-03", direction="upstream", depth=1)
    raw_made = {a.partition: a.id for a in attempts if a.asset == "raw"}
    upstream = [n for n in lineage["nodes"] if n["asset"] == "raw"]
    assert [n["materialization_id"] for n in upstream] == [raw_made["2024-01-03"]]

    # A source file changes: its readers are stale with source_changed, and only they run.
    write_landing(root, "2024-01-02", [1, 2, 3])
    found = statuses(project)
    assert found["raw[2024-01-02]"] == (PartitionStatus.STALE, {ReasonKind.SOURCE_CHANGED})
    assert found["raw[2024-01-01]"][0] is PartitionStatus.FRESH
    second = run(project, executor, request)
    assert second.status == "success"
    assert {s.name for s in second.steps if s.status is StepStatus.SUCCESS} == {
        "raw[2024-01-02]",
        "clean[2024-01-02]",
        "notify[2024-01-02]",
        "totals[2024-01-02]",
    }
    # Three rows now: the non-blocking check warns, and the data is published anyway.
    assert [(w.partition, w.check_name) for w in project.check_warnings(["raw"])] == [
        ("2024-01-02", "at_most_two_rows")
    ]

    # Early cutoff: the file is written again with the same rows (a new mtime): raw runs
    # again and makes the same data, so clean reads nothing new and is skipped.
    landing = root / "landing" / "2024-01-03.csv"
    stat = landing.stat()
    landing.write_bytes(landing.read_bytes())
    os.utime(landing, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    cut = run(project, executor, request, partition="2024-01-03")
    by_name = {s.name: s for s in cut.steps}
    assert by_name["raw[2024-01-03]"].status is StepStatus.SUCCESS
    assert by_name["clean[2024-01-03]"].status is StepStatus.SKIPPED
    assert by_name["clean[2024-01-03]"].reason == "unchanged inputs"

    # A blocking check fails on a worker: the old data stays, downstream is skipped.
    write_landing(root, "2024-01-04", [1, -5])
    blocked = run(project, executor, request)
    assert blocked.status == "failed"
    by_name = {s.name: s for s in blocked.steps}
    assert by_name["raw[2024-01-04]"].status is StepStatus.FAILED
    assert "amounts_positive" in (by_name["raw[2024-01-04]"].error or "")
    assert by_name["clean[2024-01-04]"].status is StepStatus.SKIPPED
    assert statuses(project)["raw[2024-01-04]"][0] is PartitionStatus.FAILED


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_a_worker_killed_mid_step_fails_that_attempt_and_the_retry_runs_elsewhere(
    executor: str, tmp_path: Path, clean_imports: None, request: pytest.FixtureRequest
) -> None:
    root = make_executor_project(tmp_path / "project")
    (root / "die-once").mkdir()
    (root / "die-once" / "2024-01-02").write_text("")
    project = Project.load(root)

    result = run(project, executor, request, selection="clean")
    assert result.status == "success", [s.error for s in result.failed]
    step = next(s for s in result.steps if s.name == "clean[2024-01-02]")
    assert step.attempts == 2
    _, attempts = project.run(result.run_id)
    tries = [a for a in attempts if (a.asset, a.partition) == ("clean", "2024-01-02")]
    assert [a.status for a in tries] == [StepStatus.FAILED, StepStatus.SUCCESS]
    assert tries[0].reason == "worker lost"
    assert (tries[0].error or "").startswith("worker lost")
    assert statuses(project)["clean[2024-01-02]"][0] is PartitionStatus.FRESH


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_a_step_past_its_timeout_is_failed_and_its_worker_stopped(
    executor: str, tmp_path: Path, clean_imports: None, request: pytest.FixtureRequest
) -> None:
    root = make_executor_project(tmp_path / "project")
    (root / "hang").mkdir()
    (root / "hang" / "2024-01-01").write_text("")
    project = Project.load(root)

    result = run(project, executor, request, selection="notify")
    assert result.status == "failed"
    by_name = {s.name: s for s in result.steps}
    assert by_name["notify[2024-01-01]"].status is StepStatus.FAILED
    assert "timed out after 2s" in (by_name["notify[2024-01-01]"].error or "")
    # The run went on: every other partition was made.
    others = [s for s in result.steps if s.name != "notify[2024-01-01]"]
    assert {s.status for s in others} == {StepStatus.SUCCESS}
    # No runaway work: the process that ran the hanging function is gone.
    pid = int((root / "hung.pid").read_text())
    assert not _alive(pid, wait_s=20), _describe(pid)


def _alive(pid: int, wait_s: float) -> bool:
    import time

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie of a child process counts as gone (nothing runs in it).
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"):
            return False
        time.sleep(0.2)
    return True


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        state = Path(f"/proc/{pid}/status").read_text().splitlines()[:8]
    except OSError as exc:
        return f"gone: {exc}"
    return f"{cmd} {state} threads={len(list(Path(f'/proc/{pid}/task').iterdir()))}"


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_workers_read_and_write_partitions_on_s3(
    executor: str, s3_endpoint: str, s3_bucket: str, tmp_path: Path, clean_imports: None
) -> None:
    """Data on a real S3 server (moto's, on 127.0.0.1): worker processes (a pool, or the
    local Dask cluster the run starts) write and read the partitions, with the credentials
    of their environment; the coordinator's SQL asset reads them too."""
    if executor == "dask":
        pytest.importorskip("distributed")
    import fsspec

    storage = (
        f'data = "s3://{s3_bucket}/lake"\nstorage_options = {{ endpoint_url = "{s3_endpoint}" }}'
    )
    root = make_executor_project(tmp_path / "project", storage)
    project = Project.load(root)
    result = project.materialize(executor=executor)
    assert result.status == "success", [s.error for s in result.failed]
    assert os.getpid() not in {int((root / "pids" / f"raw-{d}").read_text()) for d in DAYS}
    fs = fsspec.filesystem("s3", endpoint_url=s3_endpoint)
    stored = sorted(
        path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]
        for path in fs.find(f"{s3_bucket}/lake")
    )
    assert stored == sorted(f"{asset}/{day}.parquet" for asset in ("clean", "raw") for day in DAYS)
    assert {status for status, _ in statuses(project).values()} == {PartitionStatus.FRESH}

    write_landing(root, "2024-01-02", [5, 6, 7])
    again = project.materialize(executor=executor)
    assert {s.name for s in again.steps if s.status is StepStatus.SUCCESS} == {
        f"{asset}[2024-01-02]" for asset in ("raw", "clean", "notify", "totals")
    }
    totals = project.show("totals", "2024-01-02")
    assert [tuple(map(str, row)) for row in totals.rows] == [("2024-01-02", "36")]
