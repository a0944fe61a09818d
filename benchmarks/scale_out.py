"""Scale-out benchmarks: what the executors buy, and what the coordinator costs.

1. **Speed-up**: a CPU-bound pure-Python asset over 40 partitions, 2 workers against 1, for
   ``threads`` (the GIL: expect ~1x), ``processes`` and ``dask`` (expect >= 1.7x on 2 cores).
   Each figure is the run's own wall time (run start to run end in history), so the start of
   a pool or a local cluster is not counted; it is reported apart.
2. **Coordinator throughput**: trivial steps through Dask (steps per second of run time), on a
   cluster started once beside the runs (2 worker processes x 4 threads) and ``--workers 8``,
   so that the coordinator, not the workers, is the limit.
3. **Coordinator memory**: peak RSS of the ``assetflow backfill`` process for a
   10,000-partition backfill through Dask.

Run from the repository root with ``.[dask]`` installed:

    .venv/bin/python benchmarks/scale_out.py            # everything (~5 min here)
    .venv/bin/python benchmarks/scale_out.py --only speedup --pairs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

CPU_PIPELINE = """
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-02-10")  # 40 partitions


@asset(partitions=DAYS, io="none")
def crunch(context):
    total = 0
    for i in range({loops}):  # pure Python: holds the GIL the whole time
        total += i * i % 7
    context.add_metadata({"total": total})
"""

TRIVIAL_PIPELINE = """
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2000-01-01", end="{end}")


@asset(partitions=DAYS, io="none")
def tick(context):
    return None
"""

HOURLY_PIPELINE = """
from assetflow import HourlyPartitions, asset

HOURS = HourlyPartitions(start="2020-01-01T00:00", end="{end}")


@asset(partitions=HOURS, io="none")
def tick(context):
    return None
"""

TOML = """
[project]
name = "scale-out"
modules = ["pipeline"]
"""


def write(folder: Path, pipeline: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assets.toml").write_text(TOML)
    (folder / "pipeline.py").write_text(textwrap.dedent(pipeline))
    return folder


# The CLI in a process that reports its own peak RSS as it exits.
_MEASURED = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "'MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "from assetflow.cli import main\n"
    "sys.argv = ['assetflow', *sys.argv[1:]]\n"
    "main()\n"
)


def cli(folder: Path, *args: str) -> tuple[dict[str, object], float, int]:
    """Run ``assetflow *args --json`` in ``folder``: (document, wall s, peak RSS KiB)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args, "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"assetflow {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    rss = max(
        (int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS")),
        default=0,
    )
    return json.loads(proc.stdout), wall, rss


def run_seconds(folder: Path, run_id: str) -> float:
    """The run's own duration, from history."""
    document, _, _ = cli(folder, "runs", "--limit", "50")
    run = next(r for r in document["runs"] if r["run_id"] == run_id)  # type: ignore[attr-defined]
    start = datetime.fromisoformat(str(run["started_at"]))
    end = datetime.fromisoformat(str(run["ended_at"]))
    return (end - start).total_seconds()


def speedup(pairs: int, loops: int) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "cpu", CPU_PIPELINE.replace("{loops}", str(loops)))
        for executor in ("threads", "processes", "dask"):
            times: dict[int, list[float]] = {1: [], 2: []}
            walls: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(pairs):
                for workers in (1, 2):  # alternating, so drifts in load hit both
                    document, wall, _ = cli(
                        folder,
                        "materialize",
                        "--force",
                        "--executor",
                        executor,
                        "--workers",
                        str(workers),
                    )
                    times[workers].append(run_seconds(folder, str(document["run_id"])))
                    walls[workers].append(wall)
            one, two = min(times[1]), min(times[2])
            rows.append(
                {
                    "executor": executor,
                    "1 worker (s)": round(one, 2),
                    "2 workers (s)": round(two, 2),
                    "speed-up": round(one / two, 2),
                    "process wall, 2 workers (s)": round(min(walls[2]), 2),
                }
            )
            print(rows[-1], file=sys.stderr)
    return rows


def throughput(steps: int) -> dict[str, object]:
    import logging

    from distributed import LocalCluster

    end = datetime(2000, 1, 1).toordinal() + steps
    last = datetime.fromordinal(end).strftime("%Y-%m-%d")
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            n_workers=2,
            threads_per_worker=4,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
    ):
        folder = write(Path(tmp) / "trivial", TRIVIAL_PIPELINE.replace("{end}", last))
        address = str(cluster.scheduler_address)
        cli(folder, "materialize", "--address", address, "--workers", "8")  # warm: imports
        document, wall, _ = cli(
            folder, "materialize", "--force", "--address", address, "--workers", "8"
        )
        seconds = run_seconds(folder, str(document["run_id"]))
        threads_doc, _, _ = cli(
            folder, "materialize", "--force", "--executor", "threads", "--workers", "8"
        )
        threads_s = run_seconds(folder, str(threads_doc["run_id"]))
    result = {
        "steps": steps,
        "dask run (s)": round(seconds, 2),
        "dask steps/s": round(steps / seconds, 1),
        "threads steps/s (same steps, for contrast)": round(steps / threads_s, 1),
        "process wall (s)": round(wall, 2),
    }
    print(result, file=sys.stderr)
    return result


def memory(partitions: int) -> dict[str, object]:
    from datetime import timedelta

    first = datetime(2020, 1, 1)
    last = first + timedelta(hours=partitions - 1)
    end = (last + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "backfill", HOURLY_PIPELINE.replace("{end}", end))
        document, wall, rss = cli(
            folder,
            "backfill",
            "tick",
            "--from",
            first.strftime("%Y-%m-%dT%H:%M"),
            "--to",
            last.strftime("%Y-%m-%dT%H:%M"),
            "--executor",
            "dask",
            "--workers",
            "2",
        )
        counts = document["counts"]
    result = {
        "partitions": partitions,
        "counts": counts,
        "wall (s)": round(wall, 1),
        "coordinator peak RSS (MiB)": round(rss / 1024, 1),
    }
    print(result, file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="speedup,throughput,memory")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--loops", type=int, default=3_000_000, help="work per partition")
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--partitions", type=int, default=10_000)
    options = parser.parse_args()
    chosen = set(options.only.split(","))
    report: dict[str, object] = {"load before": os.getloadavg()}
    if "speedup" in chosen:
        report["speedup"] = speedup(options.pairs, options.loops)
    if "throughput" in chosen:
        report["throughput"] = throughput(options.steps)
    if "memory" in chosen:
        report["memory"] = memory(options.partitions)
    report["load after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
