"""Start-up of the read commands on the built example, whole process, against the floor.

    python benchmarks/startup.py                        # builds the example in a temp folder
    python benchmarks/startup.py --folder /tmp/shop     # reuse (or build once into) DIR
    python benchmarks/startup.py --rounds 15 --importtime status

Each command (``status``, ``plan``, ``list``, ``why revenue_dashboard``, ``runs``) is timed as
``sys.executable -m assetflow ...`` in a folder holding the example (``assets.toml`` and
``examples/``, built once with ``materialize revenue_dashboard``), with ``time.perf_counter``
around spawn and wait. The floor is ``python -c "import duckdb"`` (interpreter plus the one
library every read needs). Rounds alternate: floor, status, plan, list, why, runs, floor, ...
after one untimed warm-up of each, so that drift in the machine's speed hits every command
alike. Children run with bytecode caches (``PYTHONDONTWRITEBYTECODE`` removed), as an
installed package does. Output is checked to be identical across rounds and exit codes 0.
Each command's CPU time (user + system of the child, from ``getrusage``) is reported beside
its wall time: on a machine shared with other work it moves less.

``--importtime CMD`` prints the top cumulative imports of one command instead. ``--before DIR``
also times every command with ``PYTHONPATH=DIR`` (a folder holding another version of the
``assetflow`` package, e.g. ``git archive REV assetflow | tar -x -C DIR``), in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AF = [sys.executable, "-m", "assetflow"]
FLOOR = ("python -c 'import duckdb'", [sys.executable, "-c", "import duckdb"])
COMMANDS = {
    "status": ["status"],
    "plan": ["plan"],
    "list": ["list"],
    "why": ["why", "revenue_dashboard"],
    "runs": ["runs"],
}
BUDGET_S = 0.35


def child_env(python_path: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def build(folder: Path) -> None:
    """The example (no copy of the package: ``-m assetflow`` must import the installed one)."""
    if (folder / ".assetflow" / "state.duckdb").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "assets.toml", folder / "assets.toml")
    shutil.copytree(REPO / "examples", folder / "examples", dirs_exist_ok=True)
    print(f"building the example in {folder} (~20 s)", file=sys.stderr)
    subprocess.run(
        [*AF, "materialize", "revenue_dashboard"],
        cwd=folder,
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


Case = tuple[str, list[str], str | None]  # name, argv, PYTHONPATH


def timed(case: Case, cwd: Path) -> tuple[float, float, int, bytes]:
    """Wall seconds, CPU seconds (user + system of the child), exit code, stdout."""
    _, args, python_path = case
    env = child_env(python_path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.returncode, done.stdout


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def measure(
    folder: Path, rounds: int, before: Path | None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    cases: list[Case] = [(FLOOR[0], FLOOR[1], None)]
    for name, args in COMMANDS.items():
        cases.append((name, [*AF, *args], None))
        if before is not None:
            cases.append((f"{name} (before)", [*AF, *args], str(before.resolve())))
    outputs: dict[str, bytes] = {}
    for case in cases:  # warm-up: bytecode caches, page cache; the reference output
        _, _, code, out = timed(case, folder)
        if code != 0:
            raise SystemExit(f"{case[0]}: exit code {code}")
        outputs[case[0]] = out
    times: dict[str, list[float]] = {case[0]: [] for case in cases}
    cpu: dict[str, list[float]] = {case[0]: [] for case in cases}
    for index in range(rounds):
        for case in cases:
            seconds, used, code, out = timed(case, folder)
            if code != 0 or out != outputs[case[0]]:
                raise SystemExit(f"{case[0]}: exit code {code} or output changed in round {index}")
            times[case[0]].append(seconds)
            cpu[case[0]].append(used)
        print(f"round {index + 1}/{rounds}", file=sys.stderr)
    for name in COMMANDS:  # the same output before and after
        if before is not None and outputs[name] != outputs[f"{name} (before)"]:
            print(f"note: {name}: output differs from the version in --before", file=sys.stderr)
    return times, cpu


def report(times: dict[str, list[float]], cpu: dict[str, list[float]]) -> str:
    """Wall time (the budget's measure) and CPU time of the child (user + system: less moved
    by other processes on a shared machine, though DuckDB's threads can add to it)."""
    floor = statistics.median(times[FLOOR[0]])
    lines = [
        "| command | median s | p90 s | above floor s | CPU median s | budget | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, values in times.items():
        mid, used = statistics.median(values), statistics.median(cpu[name])
        if name == FLOOR[0]:
            lines.append(
                f"| {name} (floor) | {mid:.3f} | {p90(values):.3f} | — | {used:.3f} | — | info |"
            )
            continue
        verdict = "info" if name.endswith("(before)") else "ok" if mid < BUDGET_S else "MISS"
        lines.append(
            f"| {name} | {mid:.3f} | {p90(values):.3f} | {mid - floor:.3f} | {used:.3f} "
            f"| < {BUDGET_S} s | {verdict} |"
        )
    return "\n".join(lines)


def importtime(folder: Path, command: str, top: int) -> str:
    args = [sys.executable, "-X", "importtime", *AF[1:], *COMMANDS[command]]
    done = subprocess.run(args, cwd=folder, env=child_env(), capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(cumulative), int(own), name.rstrip()))
    rows.sort(reverse=True)
    return "\n".join(
        f"{cum / 1e6:8.3f} s {own / 1e6:7.3f} s {name}" for cum, own, name in rows[:top]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="the built example (built there if missing)")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--importtime", choices=sorted(COMMANDS), help="top imports of one command")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--before", type=Path, help="a folder with another assetflow package")
    options = parser.parse_args(argv)
    folder = options.folder or Path(tempfile.mkdtemp(prefix="af-startup-"))
    build(folder)
    if options.importtime:
        print(importtime(folder, options.importtime, options.top))
        return 0
    times, cpu = measure(folder, options.rounds, options.before)
    load = os.getloadavg()
    print(report(times, cpu))
    print(f"\n{options.rounds} rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    misses = [n for n in COMMANDS if statistics.median(times[n]) >= BUDGET_S]
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
