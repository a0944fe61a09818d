"""Read commands on one asset of a million partitions, whole process (issue 18, item 4).

    python benchmarks/scale_partitions.py                       # builds in /tmp/af-scale
    python benchmarks/scale_partitions.py --workdir DIR --rounds 5
    python benchmarks/scale_partitions.py --only hourly-empty,multi-empty --rounds 3
    python benchmarks/scale_partitions.py --before /tmp/before  # also another package version

Projects (io="none", UTC), each in its own folder under ``--workdir`` (built once, reused):

- ``hourly-empty``: one asset ``events``, hourly from 1910-01-01T00:00, 1,000,000 partitions
  (the end is fixed so that the count is exact), no history.
- ``hourly-made``: ``raw`` -> ``events`` (identity), both hourly as above. History seeded
  with the store's own API as ``benchmarks/workloads.seed_w4`` does: every ``raw`` partition
  and the first 100,000 of ``events`` (reading the same hour of ``raw``), all fresh; then one
  ``raw`` partition among those read gets a new success with another data version: one
  ``events`` partition turns stale, 900,000 are missing, 2,000,000 partitions in all.
- ``multi-empty``: one asset ``grid``, multi-partitioned 1,000 x 1,000 static keys, no history.
- ``multi-made``: the same with the first 100,000 partitions (100 x 1,000) seeded fresh.

Commands, each ``sys.executable -m assetflow ...`` in the folder: ``status``, ``status --json``,
``plan ASSET``, ``plan ASSET --json``, ``why ASSET PARTITION`` (a partition in the middle). Wall
time is ``time.perf_counter`` around spawn and ``os.wait4``, which also gives the child's peak
RSS (``ru_maxrss``); stdout goes to a file (no TTY). After one untimed warm-up of each, rounds
alternate every command (and, with ``--before``, the same command under the other package),
so that drift hits each alike; the table gives medians and the load average before and after.
Every output is checked: status counts and plan step counts are the expected ones.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HOURS = 1_000_000
START = datetime(1910, 1, 1)
MADE = 100_000
SIDE = 1_000
BUDGET_S, BUDGET_MB = 1.0, 300.0

_TOML = """[project]
name = "scale_{name}"
modules = ["scale_assets"]
timezone = "UTC"
"""
_END = START + timedelta(hours=HOURS)
_HOURLY = f"""from assetflow import HourlyPartitions, asset

HOURS = HourlyPartitions(start="{START:%Y-%m-%dT%H:%M}", end="{_END:%Y-%m-%dT%H:%M}")
"""
_EVENTS = """

@asset(partitions=HOURS, io="none")
def events({deps}):
    return None
"""
_RAW = """

@asset(partitions=HOURS, io="none")
def raw():
    return None
"""
_MULTI = f"""from assetflow import MultiPartitions, StaticPartitions, asset

GRID = MultiPartitions({{
    "row": StaticPartitions([f"r{{i:04d}}" for i in range({SIDE})]),
    "col": StaticPartitions([f"c{{i:04d}}" for i in range({SIDE})]),
}})


@asset(partitions=GRID, io="none")
def grid():
    return None
"""


def hour_key(i: int) -> str:
    return f"{START + timedelta(hours=i):%Y-%m-%dT%H:%M}"


def grid_key(i: int) -> str:
    return f"r{i // SIDE:04d}|c{i % SIDE:04d}"


PROJECTS: dict[str, dict[str, Any]] = {
    "hourly-empty": {"asset": "events", "why": hour_key(HOURS // 2), "total": HOURS},
    "hourly-made": {"asset": "events", "why": hour_key(MADE // 2), "total": HOURS},
    "multi-empty": {"asset": "grid", "why": grid_key(HOURS // 2), "total": HOURS},
    "multi-made": {"asset": "grid", "why": grid_key(MADE // 2), "total": HOURS},
}


def write_project(name: str, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "assets.toml").write_text(_TOML.format(name=name.replace("-", "_")))
    if name == "hourly-empty":
        module = _HOURLY + _EVENTS.format(deps="")
    elif name == "hourly-made":
        module = _HOURLY + _RAW + _EVENTS.format(deps="raw")
    else:
        module = _MULTI
    (folder / "scale_assets.py").write_text(module)


def seed(name: str, folder: Path) -> dict[str, Any]:
    """The history of a ``-made`` project, through ``StateStore.append`` (as seed_w4)."""
    from assetflow import Project
    from assetflow.records import (
        LineageRecord,
        MaterializationRecord,
        RunRecord,
        RunStatus,
        StepStatus,
    )
    from assetflow.store import StateStore

    started = time.perf_counter()
    project = Project.load(folder)
    store = StateStore(project.config.state_path)
    run_id, at = "20240101-000000-scale", datetime(2024, 2, 1, tzinfo=UTC)
    run = RunRecord(
        run_id, "materialize", "*", {}, RunStatus.RUNNING, at, host="bench", version="bench"
    )
    store.append(runs_started=[run])
    plan: list[tuple[str, list[str], str | None]] = []
    if name == "hourly-made":
        plan = [("raw", [hour_key(i) for i in range(HOURS)], None)]
        plan.append(("events", [hour_key(i) for i in range(MADE)], "raw"))
    else:
        plan = [("grid", [grid_key(i) for i in range(MADE)], None)]
    next_id, written = 1, 0
    for asset, keys, dep in plan:
        code, inputs = project.graph[asset].code_version, project.graph.inputs_version(asset)
        for lo in range(0, len(keys), 50_000):
            mats, lineage = [], []
            for key in keys[lo : lo + 50_000]:
                mid = next_id
                mats.append(
                    MaterializationRecord(
                        id=mid,
                        run_id=run_id,
                        asset=asset,
                        partition=key,
                        attempt=1,
                        status=StepStatus.SUCCESS,
                        started_at=at,
                        ended_at=at,
                        code_version=code,
                        data_version=f"d{asset}{key}",
                        inputs_version=inputs,
                    )
                )
                if dep is not None:  # raw was seeded first: its ids are 1 + index
                    up = 1 + hour_index(key)
                    lineage.append(LineageRecord(mid, dep, key, up, f"d{dep}{key}"))
                next_id += 1
            store.append(mats, lineage)
            written += len(mats)
            print(f"  {name}: seeded {written:,}", file=sys.stderr, flush=True)
    if name == "hourly-made":  # one upstream partition changes: its reader turns stale
        key = hour_key(MADE // 2)
        changed = MaterializationRecord(
            id=next_id,
            run_id=run_id,
            asset="raw",
            partition=key,
            attempt=2,
            status=StepStatus.SUCCESS,
            started_at=at + timedelta(hours=1),
            ended_at=at + timedelta(hours=1),
            code_version=project.graph["raw"].code_version,
            data_version="changed",
            inputs_version=project.graph.inputs_version("raw"),
        )
        store.append([changed])
    store.end_run(run_id, RunStatus.SUCCESS, at + timedelta(hours=1))
    return {"materializations": written, "seconds": time.perf_counter() - started}


def hour_index(key: str) -> int:
    """The index of an hourly key (raw's materialization ids are 1 + index)."""
    return int((datetime.strptime(key, "%Y-%m-%dT%H:%M") - START) / timedelta(hours=1))


def expected(name: str) -> dict[str, Any]:
    """What ``status --json`` counts for the asset and how many steps ``plan`` has."""
    if name.endswith("empty"):
        return {"counts": {"missing": HOURS}, "steps": HOURS}
    if name == "hourly-made":
        return {
            "counts": {"fresh": MADE - 1, "stale": 1, "missing": HOURS - MADE},
            "steps": HOURS - MADE + 1,
        }
    return {"counts": {"fresh": MADE, "missing": HOURS - MADE}, "steps": HOURS - MADE}


def commands(name: str) -> dict[str, list[str]]:
    spec = PROJECTS[name]
    asset = spec["asset"]
    return {
        "status": ["status"],
        "status --json": ["status", "--json"],
        "plan": ["plan", asset],
        "plan --json": ["plan", asset, "--json"],
        "why": ["why", asset, spec["why"]],
    }


def child_env(python_path: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def timed(
    args: list[str], cwd: Path, python_path: str | None, out: Path
) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one whole-process command."""
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "assetflow", *args],
            cwd=cwd,
            env=child_env(python_path),
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, child.returncode


def check(name: str, label: str, out: Path) -> str | None:
    """A problem with one command's output, or None."""
    want = expected(name)
    asset = PROJECTS[name]["asset"]
    if label == "status --json":
        records = {r["asset"]: r for r in json.loads(out.read_text())["assets"]}
        counts = {k: v for k, v in records[asset]["counts"].items() if v}
        return None if counts == want["counts"] else f"counts {counts} != {want['counts']}"
    if label == "plan --json":
        document = json.loads(out.read_text())
        if document["count"] != want["steps"] or len(document["steps"]) != want["steps"]:
            return f"plan has {document['count']} steps, expected {want['steps']}"
    if label == "plan" and f"{want['steps']:,}".replace(",", "") not in out.read_text().replace(
        ",", ""
    ):
        return f"plan does not say {want['steps']} steps"
    return None


def checked(name: str, label: str, out: Path) -> str | None:
    """:func:`check` in a child process: parsing 200 MB of JSON here would grow this process,
    and a child forked from it would report that memory as its own peak RSS."""
    done = subprocess.run(
        [sys.executable, __file__, "--check", name, label, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or (done.stderr.strip()[-300:] if done.returncode else None)


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--seed"]:
        print(f"  {seed(args[1], Path(args[2]))}", file=sys.stderr, flush=True)
        return 0
    if args[:1] == ["--check"]:
        print(check(args[1], args[2], Path(args[3])) or "", end="")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "af-scale")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(PROJECTS))
    parser.add_argument("--commands", default="", help="comma-separated labels (default: all)")
    parser.add_argument("--before", type=Path, help="also time the package found in DIR")
    parser.add_argument("--markdown-out", type=Path)
    options = parser.parse_args(argv)
    rows: list[str] = []
    failed = False
    for name in options.only.split(","):
        folder = options.workdir / name
        if not (folder / "assets.toml").exists() or (
            name.endswith("made") and not (folder / ".assetflow" / "state.duckdb").exists()
        ):
            write_project(name, folder)
            if name.endswith("made"):
                print(f"seeding {name} ...", file=sys.stderr, flush=True)
                # In a child: a child forked from a process that grew reports its memory.
                subprocess.run([sys.executable, __file__, "--seed", name, str(folder)], check=True)
        chosen = commands(name)
        if options.commands:
            chosen = {k: v for k, v in chosen.items() if k in options.commands.split(",")}
        versions = [("after", None)] + ([("before", str(options.before))] if options.before else [])
        out = folder / "out.txt"
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        loads = [load()]
        for label, args in chosen.items():  # warm-up, and the output check
            for version, path in versions:
                _, _, code = timed(args, folder, path, out)
                problem = checked(name, label, out) if code == 0 else f"exit code {code}"
                if problem and version == "after":
                    failed = True
                    print(f"FAIL {name} {label}: {problem}", file=sys.stderr, flush=True)
        for round_ in range(options.rounds):
            for label, args in chosen.items():
                for version, path in versions:
                    wall, rss, code = timed(args, folder, path, out)
                    results.setdefault((label, version), []).append((wall, rss))
            print(f"  {name}: round {round_ + 1} (load {load()})", file=sys.stderr, flush=True)
        loads.append(load())
        for (label, version), values in results.items():
            walls = [w for w, _ in values]
            peak = max(r for _, r in values)
            median = statistics.median(walls)
            verdict = "ok" if median < BUDGET_S and peak < BUDGET_MB else "MISS"
            rows.append(
                f"| {name} | `{label}` | {version} | {median:.3f} | {min(walls):.3f} | "
                f"{max(walls):.3f} | {peak:.0f} | {verdict} | {' → '.join(loads)} |"
            )
            print(rows[-1], flush=True)
    header = (
        "| project | command | version | median s | min s | max s | peak RSS MB | "
        "< 1 s, < 300 MB | load avg (1/5/15 min) |\n|---|---|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows)
    print("\n" + table)
    if options.markdown_out:
        options.markdown_out.write_text(table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
