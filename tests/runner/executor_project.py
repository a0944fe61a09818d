"""A small project whose steps leave the coordinator: Parquet and "none" assets reading a file
source, a check of each kind, retries, and a warehouse (SQL) asset that stays in the
coordinating process. Shared by the executor tests."""

from __future__ import annotations

from pathlib import Path

from helpers import write_project

TOML = """
[project]
name = "executors"
modules = ["pipeline"]

[storage]
data = "data"

[executor]
workers = 2

[sources.landing]
path = "landing/{partition}.csv"
partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }
"""

PIPELINE = """
import os
from pathlib import Path

import pyarrow.csv

from assetflow import CheckResult, DailyPartitions, RetryPolicy, asset, check

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")
HERE = Path(__file__).parent


@asset(partitions=DAYS, io="parquet")
def raw(context, landing):
    context.log.info("raw in %s", os.getpid())
    print("printed by raw", context.partition_key)
    (HERE / "pids").mkdir(exist_ok=True)
    (HERE / "pids" / f"raw-{context.partition_key}").write_text(str(os.getpid()))
    return pyarrow.csv.read_csv(landing)


@check(asset="raw", blocking=True)
def amounts_positive(raw):
    bad = raw.filter("amount <= 0").count("*").fetchone()[0]
    return CheckResult(passed=bad == 0, metadata={"bad": bad})


@check(asset="raw")
def at_most_two_rows(raw):
    rows = raw.count("*").fetchone()[0]
    return CheckResult(passed=rows <= 2, metadata={"rows": rows})


@asset(partitions=DAYS, io="parquet", retries=RetryPolicy(max_retries=2))
def clean(context, raw):
    marker = HERE / "die-once" / context.partition_key
    if marker.exists():  # a worker killed mid-step: kill -9 of its own process, once
        marker.unlink()
        os.kill(os.getpid(), 9)
    return raw.select("day, amount * 2 as amount")


@asset(partitions=DAYS, io="none", timeout=2)
def notify(context, clean):
    if (HERE / "hang" / context.partition_key).exists():
        (HERE / "hung.pid").write_text(str(os.getpid()))
        import time

        while True:  # runaway work: only stopping its process ends it
            time.sleep(0.1)
    return None
"""

SQL_ASSET = """
select day, sum(amount) as total from clean group by day
"""

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]


def write_landing(root: Path, day: str, amounts: list[int]) -> None:
    (root / "landing").mkdir(exist_ok=True)
    rows = "\n".join(f"{day},{amount}" for amount in amounts)
    (root / "landing" / f"{day}.csv").write_text("day,amount\n" + rows + "\n")


def make_executor_project(folder: Path, storage: str = 'data = "data"') -> Path:
    """The project in ``folder``; ``storage``: the body of its ``[storage]`` table."""
    toml = TOML.replace('data = "data"', storage)
    toml += '\n[assets.totals]\nsql = """' + SQL_ASSET + '"""\n'
    toml += 'partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }\n'
    root = write_project(folder, toml, {"pipeline.py": PIPELINE})
    for day in DAYS:
        write_landing(root, day, [1, 2])
    return root
