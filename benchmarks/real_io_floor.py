"""The floor for the README's main job: the example's functions run by a plain script.

    python benchmarks/real_io_floor.py --folder DIR [--threads 4]

``DIR`` holds a copy of the repository's ``assets.toml`` and ``examples/``. The script does what
a careful hand-written pipeline would do for ``assetflow materialize revenue_dashboard``, with
no orchestrator: it imports ``examples/shop/assets.py`` with a stand-in ``assetflow`` module
whose ``@asset`` returns the function unchanged (so the same bodies run, and none of
assetflow is imported), reads ``daily_revenue``'s SQL from ``assets.toml``, and walks the
1,113 partition steps in dependency order on ``--threads`` threads (one DuckDB cursor each).
Per step, like assetflow's DuckDB IO manager:

- inputs are the upstream partitions' rows (``SELECT * EXCLUDE (_partition) ... WHERE
  _partition IN (...)``), a SQL asset's inputs TEMP views of them;
- the returned relation is read once into a TEMP staging table;
- the asset's checks from ``assets.toml`` run as one aggregate query over the staged rows (a
  failed check fails the step);
- one transaction deletes the partition's stored rows and inserts the staged ones, tagged with
  ``_partition`` (the table is created, under a lock, by the first writer);
- one history row (asset, partition, status, start, end, the log lines, the checks' outcome)
  is committed to ``floor_state.duckdb``.

It does not fingerprint data, keep lineage, version code, retry, or handle another process:
that is what the orchestrator adds, and what the ratio measures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
import tomllib
import types
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import duckdb

Node = tuple[str, str]
UNPARTITIONED = "-"  # assetflow's key of an unpartitioned asset
DAYS = [
    (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat()
    for i in range((dt.date(2025, 1, 1) - dt.date(2024, 1, 1)).days)
]
MONTHS = [f"2024-{month:02d}" for month in range(1, 13)]


def stand_in_assetflow() -> None:
    """An ``assetflow`` module with just what examples/shop/assets.py imports, doing nothing."""
    module = types.ModuleType("assetflow")

    def asset(fn: Any = None, **_: Any) -> Any:
        return fn if fn is not None else (lambda f: f)

    def nothing(*_: Any, **__: Any) -> None:
        return None

    module.asset = asset  # type: ignore[attr-defined]
    module.Context = object  # type: ignore[attr-defined]
    for name in ("DailyPartitions", "MonthlyPartitions", "RetryPolicy", "TimeWindowMapping"):
        setattr(module, name, nothing)
    sys.modules["assetflow"] = module


class Context:
    """What the example's functions use of assetflow's context."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, partition_key: str) -> None:
        self.warehouse = cursor
        self.partition_key = partition_key
        self.lines: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.log = self

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args if args else message)

    def add_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata.update(metadata)


def graph() -> dict[Node, list[tuple[str, list[str]]]]:
    """Every step of the main job and the partitions of each upstream it reads (in order)."""
    steps: dict[Node, list[tuple[str, list[str]]]] = {
        ("customers", UNPARTITIONED): [],
        ("products", UNPARTITIONED): [],
    }
    for day in DAYS:
        steps[("orders", day)] = [("products", [UNPARTITIONED])]
        steps[("orders_cleaned", day)] = [("orders", [day]), ("products", [UNPARTITIONED])]
        steps[("daily_revenue", day)] = [("orders_cleaned", [day])]
    for month in MONTHS:
        days = [day for day in DAYS if day.startswith(month)]
        steps[("monthly_revenue", month)] = [("orders_cleaned", days)]
    steps[("revenue_dashboard", UNPARTITIONED)] = [
        ("monthly_revenue", MONTHS),
        ("customers", [UNPARTITIONED]),
        ("daily_revenue", DAYS),  # deps=["daily_revenue"]: order only, not an input
    ]
    return steps


ORDER_ONLY = {("revenue_dashboard", "daily_revenue")}


def check_sql(checks: list[str]) -> list[tuple[str, str]]:
    """``(name, boolean SQL over the staged table)`` for the example's built-in checks."""
    out: list[tuple[str, str]] = []
    for text in checks:
        kind, _, rest = text.partition("(")
        args = rest.rstrip(")")
        if kind == "not_null":
            out.append((text, f"count(*) FILTER ({args} IS NULL) = 0"))
        elif kind == "unique":
            out.append((text, f"count({args}) = count(DISTINCT {args})"))
        elif kind == "accepted_values":
            column, values = args.split(",", 1)
            listed = values.strip().strip("[]")
            out.append((text, f"count(*) FILTER ({column} NOT IN ({listed})) = 0"))
        elif kind == "row_count":
            out.append((text, f"count(*) >= {int(args.split('=')[1])}"))
        else:
            raise SystemExit(f"the floor knows no check {text!r}")
    return out


class Floor:
    def __init__(self, folder: Path, threads: int) -> None:
        sys.path.insert(0, str(folder))
        stand_in_assetflow()
        import examples.shop.assets as shop  # type: ignore[import-not-found]

        self.folder = folder
        self.threads = threads
        config = tomllib.loads((folder / "assets.toml").read_text())
        self.config = config
        self.functions: dict[str, Callable[..., Any]] = {
            name: getattr(shop, name)
            for name in (
                "customers",
                "products",
                "orders",
                "orders_cleaned",
                "monthly_revenue",
                "revenue_dashboard",
            )
        }
        self.sql = {
            "daily_revenue": config["assets"]["daily_revenue"]["sql"].replace(
                "{{ partition_key }}", "CAST($partition_key AS VARCHAR)"
            )
        }
        self.checks = {
            name: check_sql(section.get("checks", [])) for name, section in config["assets"].items()
        }
        self.source = folder / config["sources"]["customer_export"]["path"]
        self.warehouse = duckdb.connect(str(folder / "warehouse.duckdb"))
        self.state = duckdb.connect(str(folder / "floor_state.duckdb"))
        self.state.execute(
            "CREATE TABLE IF NOT EXISTS history (id VARCHAR, run VARCHAR, asset VARCHAR, "
            "partition VARCHAR, status VARCHAR, started TIMESTAMP, ended TIMESTAMP, "
            "logs VARCHAR[], checks_passed BOOLEAN)"
        )
        self.run_id = uuid.uuid4().hex
        self.created: set[str] = set()
        self.create_lock = threading.Lock()
        self.local = threading.local()

    def cursors(self) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
        if not hasattr(self.local, "warehouse"):
            self.local.warehouse = self.warehouse.cursor()
            self.local.state = self.state.cursor()
        return self.local.warehouse, self.local.state

    def load(
        self, cur: duckdb.DuckDBPyConnection, asset: str, keys: list[str]
    ) -> duckdb.DuckDBPyRelation:
        listed = ", ".join(f"'{key}'" for key in keys)
        return cur.sql(
            f'SELECT * EXCLUDE (_partition) FROM warehouse.main."{asset}" '
            f"WHERE _partition IN ({listed})"
        )

    def body(
        self, cur: duckdb.DuckDBPyConnection, asset: str, key: str, inputs: dict[str, Any]
    ) -> tuple[duckdb.DuckDBPyRelation, Context]:
        context = Context(cur, key)
        if asset in self.sql:
            for name, relation in inputs.items():
                cur.register(name, relation)
            try:
                value = cur.sql(self.sql[asset], params={"partition_key": key}).materialize()
            finally:
                for name in inputs:
                    cur.unregister(name)
            return value, context
        fn = self.functions[asset]
        args: dict[str, Any] = {}
        for parameter in fn.__code__.co_varnames[: fn.__code__.co_argcount]:
            if parameter == "context":
                args["context"] = context
            elif parameter == "customer_export":
                args[parameter] = self.source
            else:
                args[parameter] = inputs[parameter]
        return fn(**args), context

    def step(self, node: Node, reads: list[tuple[str, list[str]]]) -> None:
        asset, key = node
        cur, state = self.cursors()
        started = dt.datetime.now()
        inputs = {
            upstream: self.load(cur, upstream, keys)
            for upstream, keys in reads
            if (asset, upstream) not in ORDER_ONLY
        }
        value, context = self.body(cur, asset, key, inputs)
        stage = f'temp.main."stage_{uuid.uuid4().hex}"'
        cur.register("value", value)
        cur.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM value")
        cur.unregister("value")
        passed = True
        checks = self.checks.get(asset, [])
        if checks:
            row = cur.execute(
                "SELECT " + ", ".join(sql for _, sql in checks) + f" FROM {stage}"
            ).fetchall()[0]
            passed = all(row)
        if not passed:
            raise RuntimeError(f"{asset}[{key}]: a check failed: {row}")
        table = f'warehouse.main."{asset}"'
        if asset not in self.created:
            with self.create_lock:
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} AS SELECT *, "
                    f"CAST('' AS VARCHAR) AS _partition FROM {stage} WHERE false"
                )
                self.created.add(asset)
        cur.begin()
        cur.execute(f"DELETE FROM {table} WHERE _partition = $key", {"key": key})
        cur.execute(
            f"INSERT INTO {table} BY NAME SELECT *, CAST($key AS VARCHAR) AS _partition "
            f"FROM {stage}",
            {"key": key},
        )
        cur.commit()
        cur.execute(f"DROP TABLE {stage}")
        state.execute(
            "INSERT INTO history VALUES (?, ?, ?, ?, 'success', ?, ?, ?, ?)",
            [
                uuid.uuid4().hex,
                self.run_id,
                asset,
                key,
                started,
                dt.datetime.now(),
                context.lines,
                passed,
            ],
        )

    def run(self) -> int:
        steps = graph()
        waiting = {node: 0 for node in steps}
        downstream: dict[Node, list[Node]] = {node: [] for node in steps}
        for node, reads in steps.items():
            for upstream, keys in reads:
                for key in keys:
                    waiting[node] += 1
                    downstream[(upstream, key)].append(node)
        done = 0
        with ThreadPoolExecutor(self.threads) as pool:
            running: dict[Future[None], Node] = {}
            for node, count in waiting.items():
                if count == 0:
                    running[pool.submit(self.step, node, steps[node])] = node
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    node = running.pop(future)
                    future.result()
                    done += 1
                    for after in downstream[node]:
                        waiting[after] -= 1
                        if waiting[after] == 0:
                            running[pool.submit(self.step, after, steps[after])] = after
        self.warehouse.close()
        self.state.close()
        return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    os.chdir(args.folder)
    start = time.perf_counter()
    done = Floor(args.folder.resolve(), args.threads).run()
    print(f"{done} steps in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0 if done == len(graph()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
