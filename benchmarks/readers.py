"""A reader during writers: ``status --json`` from another process while four runs write.

    python benchmarks/readers.py                  # 4 runs of the README's main job, 1 reader
    python benchmarks/readers.py --runs 4 --rounds 2 --json-out /tmp/readers.json

In a copy of the repository's example (``assets.toml`` and ``examples/``, fresh state and
warehouse), four ``assetflow materialize revenue_dashboard`` processes start at once: they
share the 1,113 partition steps through leases (each made exactly once), and take turns at the
state file and the warehouse. Meanwhile one reader runs ``python -m assetflow status --json``
again and again, each a new process timed from spawn to exit, until every run has exited.
Every run must exit 0, every reader call must exit 0 with one JSON document, and at the end
the state file must hold exactly one success per partition step.

Reported: the reader's p50, p95 and max whole-process latency, the number of calls, the runs'
wall time, and the load average; the floor is the same ``status --json`` with no run going.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_io import copy_example, reset

AF = [sys.executable, "-m", "assetflow"]
STEPS = 1113
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_once(folder: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [*AF, "status", "--json"], cwd=folder, capture_output=True, text=True, env=CHILD_ENV
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"status --json exited {done.returncode}:\n{done.stderr[-2000:]}")
    json.loads(done.stdout)
    return seconds


def successes(folder: Path) -> tuple[int, int]:
    con = duckdb.connect(str(folder / ".assetflow" / "state.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), count(DISTINCT (asset, partition)) FROM materializations "
            "WHERE status = 'success'"
        ).fetchall()[0]
        return int(row[0]), int(row[1])
    finally:
        con.close()


def one_round(folder: Path, runs: int) -> tuple[list[float], float]:
    reset(folder)
    read_once(folder)  # warm: bytecode caches, an empty state
    start = time.perf_counter()
    writers = [
        subprocess.Popen(
            [*AF, "materialize", "revenue_dashboard"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=CHILD_ENV,
        )
        for _ in range(runs)
    ]
    latencies: list[float] = []
    while any(w.poll() is None for w in writers):
        latencies.append(read_once(folder))
    wall = time.perf_counter() - start
    for writer in writers:
        _, err = writer.communicate()
        if writer.returncode != 0:
            raise SystemExit(f"a run exited {writer.returncode}:\n{err[-2000:]}")
    made, distinct = successes(folder)
    if made != STEPS or distinct != STEPS:
        raise SystemExit(f"{made} successes of {distinct} partitions recorded, want {STEPS}")
    return latencies, wall


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="assetflow-readers-"))
    copy_example(folder)
    latencies: list[float] = []
    walls: list[float] = []
    loads: list[float] = []
    for round_ in range(args.rounds):
        found, wall = one_round(folder, args.runs)
        loads.append(os.getloadavg()[0])
        log(
            f"round {round_ + 1}: {len(found)} reads during {wall:.1f} s of {args.runs} runs; "
            f"p50 {statistics.median(found):.2f} s, p95 {p95(found):.2f} s, max {max(found):.2f} s"
        )
        latencies += found
        walls.append(wall)
    idle = [read_once(folder) for _ in range(5)]
    summary = {
        "reads": len(latencies),
        "p50_s": statistics.median(latencies),
        "p95_s": p95(latencies),
        "max_s": max(latencies),
        "idle_median_s": statistics.median(idle),
        "runs_wall_s": walls,
        "load": loads,
    }
    print("| reads | p50 s | p95 s | max s | same read, no run going (median) s | runs' wall s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {summary['reads']} | {summary['p50_s']:.2f} | {summary['p95_s']:.2f} | "
        f"{summary['max_s']:.2f} | {summary['idle_median_s']:.2f} | "
        + ", ".join(f"{w:.1f}" for w in walls)
        + " |"
    )
    print(
        f"\nverdict: p95 {'ok' if summary['p95_s'] < 1.0 else 'MISS'} (budget < 1 s); load "
        f"average (1 min) at the end of each round: {', '.join(f'{x:.1f}' for x in loads)}"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
