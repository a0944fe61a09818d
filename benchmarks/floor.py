"""The floor: what a plain script needs to do the same work as assetflow, nothing more.

For a generated workload folder (see workloads.py) it builds the partition-level graph in
networkx, walks it in topological order, calls each trivial body (from ``floor_bodies.py``, the
same bodies as the assetflow module, with upstream values passed in) and records one row per
materialization in a fresh DuckDB state file:

- ``--variant per-step`` (the default, the floor ratios are computed against): one committed
  transaction per materialization (DuckDB autocommit);
- ``--variant one-tx``: every row in one transaction, committed at the end.

With io="duckdb" each body's one-row value is also written to a table named after the asset in
a separate warehouse file, one transaction per partition (delete the partition's rows, insert
the new ones), as an IO manager must: that part is per step in both variants.

It is meant to run as its own process, exactly like ``python -m assetflow ...``, so both sides
pay interpreter start-up and imports (networkx, duckdb) and both are timed whole-process by
``run.py``:

    python benchmarks/floor.py w2                         # generate w2 in a temp folder, run it
    python benchmarks/floor.py --folder DIR --variant one-tx

It prints one JSON line: rows recorded, and the time spent inside (for information).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402
import networkx as nx  # noqa: E402

STATE_FILE = "floor_state.duckdb"
WAREHOUSE_FILE = "floor_warehouse.duckdb"

_STATE_DDL = """
CREATE TABLE IF NOT EXISTS materializations (
    id BIGINT, run_id VARCHAR, asset VARCHAR, partition VARCHAR, status VARCHAR,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, code_version VARCHAR, data_version VARCHAR
)
"""
_INSERT = "INSERT INTO materializations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def run(folder: Path, variant: str) -> dict[str, object]:
    spec = json.loads((folder / "workload.json").read_text())
    sys.path.insert(0, str(folder))
    bodies = importlib.import_module("floor_bodies")
    io = spec["io"]

    # The partition-level graph: a partitioned asset's key K reads key K of each upstream
    # (every workload uses the identity mapping); an unpartitioned one is the node (asset, "-").
    graph = nx.DiGraph()
    keys: list[str] = spec["keys"]
    deps: dict[str, list[str]] = {}
    for asset in spec["assets"]:
        name = asset["name"]
        deps[name] = asset["deps"]
        for key in keys:
            graph.add_node((name, key))
            for dep in asset["deps"]:
                graph.add_edge((dep, key), (name, key))

    state = duckdb.connect(str(folder / STATE_FILE))
    state.execute(_STATE_DDL)
    warehouse = duckdb.connect(str(folder / WAREHOUSE_FILE)) if io == "duckdb" else None
    tables: set[str] = set()
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-floor")
    values: dict[tuple[str, str], object] = {}
    one_tx = variant == "one-tx"
    if one_tx:
        state.begin()
    rows = 0
    for node in nx.topological_sort(graph):
        name, key = node
        started = datetime.now(UTC)
        value = getattr(bodies, name)(**{dep: values.get((dep, key)) for dep in deps[name]})
        if graph.out_degree(node):
            values[node] = value
        if warehouse is not None and value is not None:
            warehouse.register("stage", value)
            if name not in tables:
                warehouse.execute(
                    f'CREATE TABLE IF NOT EXISTS "{name}" AS '
                    "SELECT *, ''::VARCHAR AS _partition FROM stage LIMIT 0"
                )
                tables.add(name)
            warehouse.begin()
            warehouse.execute(f'DELETE FROM "{name}" WHERE _partition = ?', [key])
            warehouse.execute(f'INSERT INTO "{name}" SELECT *, ?::VARCHAR FROM stage', [key])
            warehouse.commit()
            warehouse.unregister("stage")
        ended = datetime.now(UTC)
        state.execute(
            _INSERT, [rows + 1, run_id, name, key, "success", started, ended, "code", "data"]
        )
        rows += 1
    if one_tx:
        state.commit()
    recorded = state.execute("SELECT count(*) FROM materializations").fetchone()[0]
    state.close()
    if warehouse is not None:
        warehouse.close()
    if recorded != spec["materializations"] or rows != recorded:
        raise SystemExit(
            f"floor: recorded {recorded} rows, expected {spec['materializations']} ({folder})"
        )
    return {"rows": recorded, "variant": variant, "seconds_inside": time.perf_counter() - _T0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The floor for one benchmark workload.")
    parser.add_argument("workload", nargs="?", help="w0..w5: generate it in a temp folder first")
    parser.add_argument("--folder", type=Path, help="a folder generated by workloads.py")
    parser.add_argument("--io", choices=("none", "duckdb"), default="none")
    parser.add_argument("--variant", choices=("per-step", "one-tx"), default="per-step")
    args = parser.parse_args(argv)
    if args.folder is None:
        if args.workload is None:
            parser.error("give a WORKLOAD or --folder")
        import tempfile

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import workloads

        args.folder = Path(tempfile.mkdtemp(prefix=f"floor-{args.workload}-"))
        workloads.generate(args.workload, args.io, args.folder)
    folder = args.folder.resolve()
    for name in (STATE_FILE, WAREHOUSE_FILE):
        for suffix in ("", ".wal"):
            (folder / (name + suffix)).unlink(missing_ok=True)
    print(json.dumps(run(folder, args.variant)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
