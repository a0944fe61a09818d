"""A small project and a fixed history for the UI tests: statuses of every kind, a failed run
with a traceback and logs, all at fixed times so that screens and snapshots are stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from assetflow import Project
from assetflow.records import (
    LineageRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
    StepStatus,
)
from assetflow.store import StateStore

PIPELINE = """
import os
import time

from assetflow import DailyPartitions, StaticPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-15")


@asset(partitions=DAYS, io="none", group="ingest")
def raw(context):
    context.log.info("loading %s", context.partition_key)
    time.sleep(float(os.environ.get("AF_TEST_SLOW", "0")))
    if context.partition_key in os.environ.get("AF_TEST_FAIL", "").split(","):
        raise ValueError(f"bad day {context.partition_key}")


@asset(partitions=DAYS, io="none", group="ingest")
def clean(raw):
    return None


@asset(io="none", group="reports", freshness={"max_lag": "26h"}, schedule="0 6 * * *")
def report(clean):
    return None


@asset(partitions=StaticPartitions(["eu", "us", "apac"]), io="none", group="ingest")
def regions():
    return None
"""

NOW = datetime(2024, 1, 16, 13, 0, tzinfo=UTC)
DAYS = [f"2024-01-{day:02d}" for day in range(1, 15)]
FIRST_RUN = "20240115-100000-aaaaaa"
FAILED_RUN = "20240116-090000-bbbbbb"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "pipeline.py", line 15, in raw\n'
    '    raise ValueError(f"bad day {context.partition_key}")\n'
    "ValueError: bad day 2024-01-10\n"
)


def write(root: Path) -> Path:
    """Write the project into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "assets.toml").write_text('[project]\nname = "tiny"\nmodules = ["pipeline"]\n')
    (root / "pipeline.py").write_text(PIPELINE)
    return root


def seed(project: Project) -> None:
    """Record two runs: the first makes everything but ``regions[apac]`` fresh; the second
    fails ``raw[2024-01-10]`` twice (skipping ``clean`` of that day) and changes the data of
    ``raw[2024-01-12]`` (so ``clean[2024-01-12]`` is stale)."""
    store = StateStore(project.config.state_path)
    graph = project.graph
    ids = iter(range(1, 10_000))
    at = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    done: dict[tuple[str, str], int] = {}
    ms: list[MaterializationRecord] = []
    lineage: list[LineageRecord] = []
    logs: list[LogRecord] = []

    def success(
        run: str, asset: str, key: str, start: datetime, reads: list[tuple[str, str]]
    ) -> int:
        mid = next(ids)
        ms.append(
            MaterializationRecord(
                id=mid,
                run_id=run,
                asset=asset,
                partition=key,
                attempt=1,
                status=StepStatus.SUCCESS,
                started_at=start,
                ended_at=start + timedelta(seconds=1.5),
                code_version=graph[asset].code_version,
                data_version=f"d{mid:04x}",
                inputs_version=graph.inputs_version(asset),
            )
        )
        for up in reads:
            lineage.append(LineageRecord(mid, up[0], up[1], done[up], f"d{done[up]:04x}"))
        done[(asset, key)] = mid
        return mid

    def run(run_id: str, started: datetime, status: RunStatus, ended: datetime) -> RunRecord:
        return RunRecord(
            run_id=run_id,
            kind="materialize",
            selection="*",
            arguments={},
            status=status,
            started_at=started,
            ended_at=ended,
            host="test",
            pid=1,
            version="test",
        )

    for i, day in enumerate(DAYS):
        mid = success(FIRST_RUN, "raw", day, at + timedelta(seconds=i), [])
        logs.append(LogRecord(mid, 0, at + timedelta(seconds=i), "INFO", f"loading {day}"))
    for i, day in enumerate(DAYS):
        success(FIRST_RUN, "clean", day, at + timedelta(seconds=20 + i), [("raw", day)])
    success(FIRST_RUN, "report", "-", at + timedelta(seconds=40), [("clean", d) for d in DAYS])
    for key in ("eu", "us"):
        success(FIRST_RUN, "regions", key, at + timedelta(seconds=41), [])
    first = run(FIRST_RUN, at, RunStatus.SUCCESS, at + timedelta(seconds=45))
    store.append(ms, lineage, logs, runs_started=[first])
    ms.clear()
    lineage.clear()
    logs.clear()

    second = datetime(2024, 1, 16, 9, 0, tzinfo=UTC)
    success(FAILED_RUN, "raw", "2024-01-12", second, [])
    for attempt in (1, 2):
        mid = next(ids)
        start = second + timedelta(seconds=2 * attempt)
        ms.append(
            MaterializationRecord(
                id=mid,
                run_id=FAILED_RUN,
                asset="raw",
                partition="2024-01-10",
                attempt=attempt,
                status=StepStatus.FAILED,
                started_at=start,
                ended_at=start + timedelta(seconds=0.5),
                code_version=graph["raw"].code_version,
                error="ValueError: bad day 2024-01-10",
                traceback=TRACEBACK,
            )
        )
        logs.append(LogRecord(mid, 0, start, "INFO", "loading 2024-01-10"))
        logs.append(LogRecord(mid, 1, start, "ERROR", "the export of 2024-01-10 is corrupt"))
    ms.append(
        MaterializationRecord(
            id=next(ids),
            run_id=FAILED_RUN,
            asset="clean",
            partition="2024-01-10",
            attempt=0,
            status=StepStatus.SKIPPED,
            started_at=second + timedelta(seconds=6),
            ended_at=second + timedelta(seconds=6),
            code_version=graph["clean"].code_version,
            reason="upstream failed: raw[2024-01-10]",
        )
    )
    failed = run(FAILED_RUN, second, RunStatus.FAILED, second + timedelta(seconds=7))
    store.append(ms, lineage, logs, runs_started=[failed])
