"""Benchmark workloads: each writes a small assetflow project into a folder.

A workload folder holds

- ``assets.toml``      the project (module ``bench_assets``; default storage and executor);
- ``bench_assets.py``  one ``@asset`` per asset, bodies trivial: ``return None`` with io="none",
                       a one-row pyarrow table (``{"v": [1]}``) with io="duckdb" (pyarrow is
                       imported inside the body, so the module itself imports only assetflow);
- ``floor_bodies.py``  the same bodies as plain functions (no assetflow import), for ``floor.py``;
- ``workload.json``    the description both sides read: assets, their deps and partition keys,
                       the assetflow command to run, and the number of materializations expected.

Everything is deterministic: graph shapes come from ``random.Random(seed)``.

    python benchmarks/workloads.py w1 --io none --out /tmp/w1     # write one, print its folder

Workloads (see the issue in benchmarks/README.md):

- ``w0``  one unpartitioned asset, ``materialize '*'``;
- ``w1``  200 unpartitioned assets in 10 layers of 20, each asset of layers 1-9 reading 2 or 3
          assets of the previous layer, ``materialize '*'``;
- ``w2``  one daily asset, 365 partitions 2024-01-01..2024-12-30, ``backfill --from --to``;
- ``w3``  a chain of 50 unpartitioned assets, ``materialize '*'``;
- ``w4``  1,000 daily assets (10 layers of 100, 2 or 3 deps each, identity mapping) x 1,000 days
          (2022-01-01..2024-09-26): a status-only workload, its history seeded by ``seed_w4``;
- ``w5``  one hourly asset, 10,000 partitions from 2024-01-01T00:00, ``backfill --from --to``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

WORKLOADS = ("w0", "w1", "w2", "w3", "w4", "w5")
IOS = ("none", "duckdb")
SEED = 20240101

# w2
W2_START = date(2024, 1, 1)
W2_DAYS = 365  # 2024-01-01 .. 2024-12-30 (2024 is a leap year)
# w4
W4_START = date(2022, 1, 1)
# w5
W5_START = datetime(2024, 1, 1, 0, 0)
W5_HOURS = 10_000


@dataclass
class AssetSpec:
    name: str
    deps: list[str] = field(default_factory=list)
    # None (unpartitioned) or {"kind": "daily"|"hourly", "start": str, "end": str}
    partitions: dict[str, str] | None = None


@dataclass
class Workload:
    name: str
    io: str
    assets: list[AssetSpec]
    command: list[str]  # assetflow arguments (after `python -m assetflow`)
    keys: list[str]  # partition keys shared by every partitioned asset (["-"] if none)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def materializations(self) -> int:
        """How many materializations one run of ``command`` must record."""
        return len(self.assets) * len(self.keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "io": self.io,
            "description": self.description,
            "command": self.command,
            "keys": self.keys,
            "materializations": self.materializations,
            "assets": [
                {"name": a.name, "deps": a.deps, "partitions": a.partitions} for a in self.assets
            ],
            "extra": self.extra,
        }


# --- graph shapes --------------------------------------------------------------------------------


def layered(layers: int, width: int, rng: random.Random) -> list[AssetSpec]:
    """``layers`` x ``width`` assets ``a{layer}_{i}``; each asset of layers 1.. reads 2 or 3
    distinct assets of the previous layer (seeded)."""
    digits = len(str(width - 1))
    names = [[f"a{layer}_{i:0{digits}d}" for i in range(width)] for layer in range(layers)]
    specs: list[AssetSpec] = []
    for layer in range(layers):
        for name in names[layer]:
            deps: list[str] = []
            if layer > 0:
                deps = sorted(rng.sample(names[layer - 1], rng.choice((2, 3))))
            specs.append(AssetSpec(name, deps))
    return specs


def chain(length: int) -> list[AssetSpec]:
    digits = len(str(length - 1))
    names = [f"c{i:0{digits}d}" for i in range(length)]
    return [AssetSpec(name, [names[i - 1]] if i else []) for i, name in enumerate(names)]


def daily_keys(start: date, days: int) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range(days)]


def hourly_keys(start: datetime, hours: int) -> list[str]:
    return [(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M") for i in range(hours)]


# --- the workloads -------------------------------------------------------------------------------


def build(name: str, io: str, *, quick: bool = False) -> Workload:
    """The description of workload ``name`` (``quick``: w4 at 100 x 100)."""
    if io not in IOS:
        raise ValueError(f"io must be one of {IOS}, not {io!r}")
    rng = random.Random(f"{SEED}-{name}")
    star = ["materialize", "*", "--json"]
    if name == "w0":
        return Workload(name, io, [AssetSpec("single")], star, ["-"], "1 unpartitioned asset")
    if name == "w1":
        return Workload(
            name, io, layered(10, 20, rng), star, ["-"], "200 assets, 10 layers of 20, 2-3 deps"
        )
    if name == "w3":
        return Workload(name, io, chain(50), star, ["-"], "a chain of 50 assets")
    if name == "w2":
        keys = daily_keys(W2_START, W2_DAYS)
        end = (W2_START + timedelta(days=W2_DAYS)).isoformat()
        parts = {"kind": "daily", "start": W2_START.isoformat(), "end": end}
        command = ["backfill", "daily", "--from", keys[0], "--to", keys[-1], "--json"]
        return Workload(
            name, io, [AssetSpec("daily", [], parts)], command, keys, "1 daily asset, 365 days"
        )
    if name == "w4":
        layers, width, days = (10, 10, 100) if quick else (10, 100, 1000)
        keys = daily_keys(W4_START, days)
        end = (W4_START + timedelta(days=days)).isoformat()
        parts = {"kind": "daily", "start": W4_START.isoformat(), "end": end}
        specs = layered(layers, width, rng)
        for spec in specs:
            spec.partitions = dict(parts)
        return Workload(
            name,
            io,
            specs,
            ["status", "--json"],
            keys,
            f"{len(specs)} daily assets x {days} partitions (status/plan only)",
            # The partition that changes after seeding: a root asset, a day in the middle.
            extra={"changed": [specs[0].name, keys[len(keys) // 2]]},
        )
    if name == "w5":
        keys = hourly_keys(W5_START, W5_HOURS)
        end = (W5_START + timedelta(hours=W5_HOURS)).strftime("%Y-%m-%dT%H:%M")
        parts = {"kind": "hourly", "start": keys[0], "end": end}
        command = ["backfill", "hourly", "--from", keys[0], "--to", keys[-1], "--json"]
        return Workload(
            name,
            io,
            [AssetSpec("hourly", [], parts)],
            command,
            keys,
            "1 hourly asset, 10,000 partitions",
            extra={"plan": ["plan", "hourly", "--from", keys[0], "--to", keys[-1], "--json"]},
        )
    raise ValueError(f"unknown workload {name!r} (one of {', '.join(WORKLOADS)})")


# --- writing a project ---------------------------------------------------------------------------

_TOML = """\
# Generated by benchmarks/workloads.py: workload {name} ({description}), io = "{io}".
[project]
name = "bench_{name}"
modules = ["bench_assets"]
timezone = "UTC"
"""

_PARTITION_CLASSES = {"daily": "DailyPartitions", "hourly": "HourlyPartitions"}


def _partitions_expr(parts: dict[str, str]) -> str:
    cls = _PARTITION_CLASSES[parts["kind"]]
    return f'{cls}(start="{parts["start"]}", end="{parts["end"]}")'


# The one-row value of io="duckdb" bodies. pyarrow is imported on the first call, so importing
# the module costs nothing beyond assetflow's own imports (status and plan never call bodies).
_ROW = """
def _row():
    import pyarrow as pa

    return pa.table({"v": [1]})
"""


def _body(io: str) -> str:
    return "    return _row()\n" if io == "duckdb" else "    return None\n"


def assets_module(workload: Workload) -> str:
    lines = [f'"""Generated: workload {workload.name}, io={workload.io}. Bodies are trivial."""\n']
    lines.append("from assetflow import DailyPartitions, HourlyPartitions, asset\n")
    if workload.io == "duckdb":
        lines.append(_ROW)
    definitions: dict[str, str] = {}
    for spec in workload.assets:
        arguments = [f'io="{workload.io}"']
        if spec.partitions is not None:
            expr = _partitions_expr(spec.partitions)
            definitions.setdefault(expr, f"P{len(definitions)}")
            arguments.insert(0, f"partitions={definitions[expr]}")
        lines.append(
            f"\n@asset({', '.join(arguments)})\n"
            f"def {spec.name}({', '.join(spec.deps)}):\n" + _body(workload.io)
        )
    header = "".join(f"{var} = {expr}\n" for expr, var in definitions.items())
    return lines[0] + lines[1] + ("\n" + header if header else "") + "".join(lines[2:])


def floor_module(workload: Workload) -> str:
    """The same bodies, plain: what the floor calls. No assetflow import."""
    lines = [f'"""Generated: the floor\'s bodies for workload {workload.name}."""\n']
    if workload.io == "duckdb":
        lines.append(_ROW)
    for spec in workload.assets:
        lines.append(f"\n\ndef {spec.name}({', '.join(spec.deps)}):\n" + _body(workload.io))
    return "".join(lines)


def write(workload: Workload, folder: Path) -> Path:
    """Write the project of ``workload`` into ``folder`` (emptied first); returns the folder."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "assets.toml").write_text(
        _TOML.format(name=workload.name, description=workload.description, io=workload.io)
    )
    (folder / "bench_assets.py").write_text(assets_module(workload))
    (folder / "floor_bodies.py").write_text(floor_module(workload))
    (folder / "workload.json").write_text(json.dumps(workload.to_json(), indent=1) + "\n")
    return folder


def generate(name: str, io: str, folder: Path, *, quick: bool = False) -> Workload:
    workload = build(name, io, quick=quick)
    write(workload, folder)
    return workload


def load(folder: Path) -> dict[str, Any]:
    """The ``workload.json`` of a generated folder."""
    return json.loads((Path(folder) / "workload.json").read_text())


# --- w4: seeding a million statuses through the store's own API ---------------------------------


def seed_w4(folder: Path, *, batch: int = 50_000, progress: bool = True) -> dict[str, Any]:
    """Record one fresh success for every (asset, partition) of the w4 project in ``folder``.

    Uses ``StateStore.append`` with ``MaterializationRecord`` / ``LineageRecord`` in batches of
    ``batch`` materializations, asset by asset in topological order (so a batch's upstream
    materializations are always known). Code versions come from ``Project.load``; lineage is the
    identity mapping (the same day of each upstream asset) with the upstream's id and data
    version, so every partition is fresh. Returns timings and counts.
    """
    import time
    from datetime import UTC

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
    spec = load(folder)
    project = Project.load(folder)
    store = StateStore(project.config.state_path)
    keys: list[str] = spec["keys"]
    assets = spec["assets"]
    order = {name: i for i, name in enumerate(project.graph.topological_order())}
    assets = sorted(assets, key=lambda a: order[a["name"]])
    run_id = "20240101-000000-bench04"
    at = datetime(2024, 10, 1, tzinfo=UTC)
    store.append(
        runs_started=[
            RunRecord(
                run_id=run_id,
                kind="materialize",
                selection="*",
                arguments={"seeded_by": "benchmarks/workloads.py"},
                status=RunStatus.RUNNING,
                started_at=at,
                host="bench",
                pid=0,
                version="bench",
            )
        ]
    )
    ids: dict[tuple[str, str], int] = {}
    next_id = 1
    pending_m: list[MaterializationRecord] = []
    pending_l: list[LineageRecord] = []
    written = lineage_rows = 0
    converting = writing = 0.0

    def flush() -> None:
        nonlocal written, lineage_rows, writing
        if not pending_m:
            return
        t = time.perf_counter()
        store.append(pending_m, pending_l)
        writing += time.perf_counter() - t
        written += len(pending_m)
        lineage_rows += len(pending_l)
        pending_m.clear()
        pending_l.clear()
        if progress:
            print(
                f"  seeded {written:,} materializations ({time.perf_counter() - started:.0f}s)",
                file=sys.stderr,
                flush=True,
            )

    for a in assets:
        name = a["name"]
        code_version = project.graph[name].code_version
        inputs_version = project.graph.inputs_version(name)
        t = time.perf_counter()
        for key in keys:
            mid = next_id
            next_id += 1
            ids[(name, key)] = mid
            pending_m.append(
                MaterializationRecord(
                    id=mid,
                    run_id=run_id,
                    asset=name,
                    partition=key,
                    attempt=1,
                    status=StepStatus.SUCCESS,
                    started_at=at,
                    ended_at=at,
                    code_version=code_version,
                    data_version=f"d{mid:x}",
                    inputs_version=inputs_version,
                )
            )
            for dep in a["deps"]:
                up = ids[(dep, key)]
                pending_l.append(LineageRecord(mid, dep, key, up, f"d{up:x}"))
        converting += time.perf_counter() - t
        if len(pending_m) >= batch:
            flush()
    flush()
    store.end_run(run_id, RunStatus.SUCCESS, at)
    return {
        "materializations": written,
        "lineage": lineage_rows,
        "seconds": time.perf_counter() - started,
        "seconds_append": writing,
        "seconds_records": converting,
        "next_id": next_id,
    }


def change_w4(folder: Path, next_id: int | None = None) -> dict[str, Any]:
    """Append one new success, with a new data version, for the workload's ``changed`` partition
    (a root asset, so its whole downstream chain on that day turns stale). Returns what is
    expected: the stale nodes."""
    from datetime import UTC

    import networkx as nx

    from assetflow.records import MaterializationRecord, RunRecord, RunStatus, StepStatus
    from assetflow.store import StateStore

    spec = load(folder)
    asset, key = spec["extra"]["changed"]
    from assetflow import Project

    project = Project.load(folder)
    store = StateStore(project.config.state_path)
    run_id = "20241002-000000-bench4c"
    at = datetime(2024, 10, 2, tzinfo=UTC)
    mid = next_id or (1 << 62)
    store.append(
        materializations=[
            MaterializationRecord(
                id=mid,
                run_id=run_id,
                asset=asset,
                partition=key,
                attempt=1,
                status=StepStatus.SUCCESS,
                started_at=at,
                ended_at=at,
                code_version=project.graph[asset].code_version,
                inputs_version=project.graph.inputs_version(asset),
                data_version="changed-by-benchmark",
            )
        ],
        runs_started=[
            RunRecord(
                run_id=run_id,
                kind="materialize",
                selection=asset,
                arguments={},
                status=RunStatus.RUNNING,
                started_at=at,
                host="bench",
                pid=0,
                version="bench",
            )
        ],
        runs_ended=[(run_id, RunStatus.SUCCESS, at)],
    )
    graph = nx.DiGraph()
    for a in spec["assets"]:
        graph.add_node(a["name"])
        for dep in a["deps"]:
            graph.add_edge(dep, a["name"])
    stale = sorted(nx.descendants(graph, asset))
    return {"asset": asset, "partition": key, "stale_assets": stale}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--io", choices=IOS, default="none")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (emptied)")
    parser.add_argument("--quick", action="store_true", help="w4 at 100 x 100")
    parser.add_argument("--seed-state", action="store_true", help="w4: also seed the history")
    args = parser.parse_args(argv)
    workload = generate(args.workload, args.io, args.out, quick=args.quick)
    print(args.out)
    print(f"{workload.description}; {workload.materializations:,} materializations per run")
    if args.seed_state:
        if args.workload != "w4":
            parser.error("--seed-state is for w4")
        print(json.dumps(seed_w4(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
