"""The README's main job with real DuckDB IO, against a plain script doing the same work.

    python benchmarks/real_io.py                      # 5 alternating pairs (~3-4 min)
    python benchmarks/real_io.py --pairs 3 --threads 4 --json-out /tmp/real_io.json

Each pair runs, in two copies of the repository's example (``assets.toml`` and ``examples/``,
fresh state and warehouse before every run):

- ``python -m assetflow materialize revenue_dashboard --json`` (the README's first command:
  1,113 partition steps, DuckDB tables, checks, lineage, logs, history), and
- ``python benchmarks/real_io_floor.py`` (the same functions, checks and tables written by a
  plain script on ``--threads`` threads, the same number as the example's ``executor.workers``;
  see that file).

The order within a pair alternates (assetflow first, then the floor first), so drift in the
machine's speed hits both alike. Timing is whole process: wall time around spawn and
``os.wait4``, CPU as the child's user + system time, peak RSS from ``ru_maxrss``. Every run
must exit 0; assetflow's ``--json`` must list 1,113 successful steps; and every table of both
warehouses must hold the same rows (count and an order-independent hash of every row,
``_partition`` included), or the benchmark fails.

Reported: medians of wall, CPU and peak RSS, and the median of the per-pair ratios
(assetflow / floor) against the issue's budgets (wall <= 1.2x, CPU <= 1.5x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
STEPS = 1113
WALL_BUDGET = 1.2
CPU_BUDGET = 1.5
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Timed:
    wall: float
    cpu: float
    rss_mb: float
    stdout: str
    stderr: str
    code: int


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_timed(args: list[str], cwd: Path) -> Timed:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            args, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=CHILD_ENV
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Timed(
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024.0,
            out.read(),
            err.read(),
            os.waitstatus_to_exitcode(status),
        )


def copy_example(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "assets.toml", folder / "assets.toml")
    shutil.copytree(
        REPO / "examples",
        folder / "examples",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def reset(folder: Path) -> None:
    shutil.rmtree(folder / ".assetflow", ignore_errors=True)
    shutil.rmtree(folder / "data", ignore_errors=True)
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal", "floor_state.duckdb"):
        (folder / name).unlink(missing_ok=True)


def tables(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Each table's row count and order-independent hash of its rows (columns by name)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        found: dict[str, list[str]] = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall():
            found.setdefault(table, []).append(column)
        digests: dict[str, tuple[int, int]] = {}
        for table, columns in sorted(found.items()):
            listed = ", ".join('"' + c + '"' for c in sorted(columns))
            row = con.execute(
                f'SELECT count(*), coalesce(sum(hash({listed})::HUGEINT), 0) FROM "{table}"'
            ).fetchall()[0]
            digests[table] = (int(row[0]), int(row[1]))
        return digests
    finally:
        con.close()


def check_assetflow(result: Timed) -> None:
    if result.code != 0:
        raise SystemExit(f"assetflow exited {result.code}:\n{result.stderr[-3000:]}")
    steps = json.loads(result.stdout)["steps"]
    good = [s for s in steps if s.get("status") == "success"]
    if len(steps) != STEPS or len(good) != STEPS:
        raise SystemExit(f"assetflow: {len(good)} of {len(steps)} steps succeeded, want {STEPS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4, help="the floor's threads")
    parser.add_argument("--workdir", type=Path, help="keep the two copies here")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="assetflow-real-io-"))
    ours, floor = root / "assetflow", root / "floor"
    copy_example(ours)
    copy_example(floor)
    sides = {
        "assetflow": (
            [sys.executable, "-m", "assetflow", "materialize", "revenue_dashboard", "--json"],
            ours,
        ),
        "floor": (
            [
                sys.executable,
                str(REPO / "benchmarks" / "real_io_floor.py"),
                "--folder",
                str(floor),
                "--threads",
                str(args.threads),
            ],
            floor,
        ),
    }
    results: dict[str, list[Timed]] = {"assetflow": [], "floor": []}
    loads: list[float] = []
    reference: dict[str, tuple[int, int]] | None = None
    for pair in range(args.pairs + 1):  # pair 0 is an untimed warm-up
        order = ["assetflow", "floor"] if pair % 2 == 0 else ["floor", "assetflow"]
        for side in order:
            command, folder = sides[side]
            reset(folder)
            result = run_timed(command, folder)
            if side == "assetflow":
                check_assetflow(result)
            elif result.code != 0:
                raise SystemExit(f"floor exited {result.code}:\n{result.stderr[-3000:]}")
            digest = tables(folder / "warehouse.duckdb")
            if reference is None:
                reference = digest
            elif digest != reference:
                raise SystemExit(f"{side}: tables differ\n{digest}\n!=\n{reference}")
            loads.append(os.getloadavg()[0])
            log(
                f"pair {pair}{' (warm-up)' if pair == 0 else ''} {side}: {result.wall:.2f} s "
                f"wall, {result.cpu:.2f} s CPU, {result.rss_mb:.0f} MB"
            )
            if pair:
                results[side].append(result)
    wall_ratios = [
        a.wall / f.wall for a, f in zip(results["assetflow"], results["floor"], strict=True)
    ]
    cpu_ratios = [
        a.cpu / f.cpu for a, f in zip(results["assetflow"], results["floor"], strict=True)
    ]
    summary = {
        side: {
            "wall_s": statistics.median(r.wall for r in runs),
            "cpu_s": statistics.median(r.cpu for r in runs),
            "peak_rss_mb": statistics.median(r.rss_mb for r in runs),
        }
        for side, runs in results.items()
    }
    summary["ratio"] = {
        "wall": statistics.median(wall_ratios),
        "cpu": statistics.median(cpu_ratios),
        "wall_pairs": wall_ratios,
        "cpu_pairs": cpu_ratios,
    }
    summary["load"] = {"min": min(loads), "max": max(loads)}
    summary["tables"] = {name: rows for name, (rows, _) in (reference or {}).items()}
    ratio = summary["ratio"]
    print("| | wall s | CPU s | peak RSS MB |")
    print("|---|---|---|---|")
    for side in ("assetflow", "floor"):
        s = summary[side]
        print(f"| {side} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | {s['peak_rss_mb']:.0f} |")
    print(
        f"| ratio (median of {args.pairs} pairs) | {ratio['wall']:.2f} "
        f"({'ok' if ratio['wall'] <= WALL_BUDGET else 'MISS'}, budget {WALL_BUDGET}) | "
        f"{ratio['cpu']:.2f} ({'ok' if ratio['cpu'] <= CPU_BUDGET else 'MISS'}, budget "
        f"{CPU_BUDGET}) | |"
    )
    print(f"\nload average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
