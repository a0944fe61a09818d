"""Run the assetflow benchmarks and print a Markdown table with ratios to the floor.

    python benchmarks/run.py                      # everything, io none and duckdb, 5 pairs
    python benchmarks/run.py --quick              # 2 pairs, w4 at 100 x 100 (a smoke run)
    python benchmarks/run.py --only w2 --io none  # one workload
    python benchmarks/run.py --only cli,w4 --pairs 3 --json-out /tmp/bench.json

Method (this machine's speed drifts by tens of percent, so absolute seconds mean little):

- Every command is timed whole-process (``sys.executable -m assetflow ...`` in the workload
  folder; ``sys.executable benchmarks/floor.py --folder ...`` for the floor), wall clock with
  ``time.perf_counter`` around spawn and ``os.wait4``, which also gives the child's peak RSS.
- w0-w3 run A/B alternately: assetflow, floor (per-step commits), floor (one transaction),
  assetflow, floor, ... after one untimed warm-up of each; each pair gives a ratio, and the
  reported ratio is the median of the per-pair ratios. Every repetition starts from a fresh
  state (state file, warehouse, floor files removed, outside the timing).
- Every assetflow run is checked: ``--json`` output with every expected step ``success``, the
  state file holding exactly the expected successful materializations, and ``status --json``
  showing every partition fresh. A failed check prints ``FAIL`` and the exit code is 1.
- Absolute budgets (``--help``, ``list``, w4 status/plan, w5 planning and memory, state bytes
  per materialization) are medians of ``--pairs`` timed runs after a warm-up.

Options: ``--only`` (cli, w0..w5, store; comma-separated), ``--io none|duckdb|both``,
``--pairs N``, ``--quick``, ``--workdir DIR`` (kept afterwards), ``--json-out FILE``,
``--markdown-out FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import workloads  # noqa: E402

AF = [sys.executable, "-m", "assetflow"]
FLOOR = [sys.executable, str(BENCH / "floor.py")]
SECTIONS = ("cli", "w0", "w1", "w2", "w3", "w4", "w5", "store")

# Budgets from the issue.
RATIO_BUDGET = 2.0  # w1, w2, w3 whole-process with io="none", vs the floor
HELP_BUDGET_S = 0.3
LIST_BUDGET_S = 0.5
W4_STATUS_BUDGET_S = 1.0
W4_PLAN_BUDGET_S = 1.0
W5_PLAN_BUDGET_S = 1.0
W5_RSS_BUDGET_MB = 300.0
STORE_BUDGET_BYTES = 2048.0


class BenchFailure(Exception):
    """A run did not do what it must: the benchmark fails loudly."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- running processes ---------------------------------------------------------------------------


@dataclass
class Proc:
    args: list[str]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_mb: float

    def check(self, what: str) -> Proc:
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-15:])
            raise BenchFailure(
                f"{what}: `{' '.join(self.args[1:])}` exited {self.returncode}\n{tail}"
            )
        return self

    def json(self, what: str) -> Any:
        """stdout as JSON; a non-zero exit fails, naming the first unsuccessful step if any."""
        try:
            doc = json.loads(self.stdout)
        except json.JSONDecodeError as error:
            doc, problem = None, error
        if self.returncode != 0:
            steps = doc.get("steps") if isinstance(doc, dict) else None
            bad = [s for s in steps or () if s.get("status") != "success"]
            if bad:
                first = bad[0]
                what += (
                    f" ({len(bad)} step(s) not successful, e.g. {first.get('asset')}"
                    f"[{first.get('partition')}] {first.get('status')}: "
                    f"{first.get('error') or first.get('reason')})"
                )
            self.check(what)
        if doc is None:
            raise BenchFailure(f"{what}: stdout is not one JSON document ({problem})")
        return doc


# Children run as a user's shell would run them: with bytecode caches. A session that exports
# PYTHONDONTWRITEBYTECODE=1 (this machine's does) would otherwise make every run recompile
# assetflow and the workload modules from source, which adds ~0.3 s to each process.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_timed(args: Sequence[str], cwd: Path) -> Proc:
    """Run ``args`` in ``cwd``; wall time of spawn-to-exit, and the child's own peak RSS."""
    import subprocess

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            list(args), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=CHILD_ENV
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(
            list(args),
            seconds,
            child.returncode,
            out.read(),
            err.read(),
            usage.ru_maxrss / 1024.0,  # KiB on Linux
        )


# --- state ---------------------------------------------------------------------------------------


def reset(folder: Path) -> None:
    """Remove every trace of earlier runs: state, warehouse, parquet data, floor files."""
    shutil.rmtree(folder / ".assetflow", ignore_errors=True)
    shutil.rmtree(folder / "data", ignore_errors=True)
    for name in ("warehouse.duckdb", "floor_state.duckdb", "floor_warehouse.duckdb"):
        for suffix in ("", ".wal"):
            (folder / (name + suffix)).unlink(missing_ok=True)


def state_path(folder: Path) -> Path:
    return folder / ".assetflow" / "state.duckdb"


def checkpointed_size(path: Path) -> int:
    """The state file's size after a forced checkpoint (so the WAL is folded in)."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("FORCE CHECKPOINT")
    finally:
        con.close()
    wal = Path(str(path) + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def recorded_successes(folder: Path) -> int:
    import duckdb

    con = duckdb.connect(str(state_path(folder)), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*) FROM materializations WHERE status = 'success'"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


# --- checks --------------------------------------------------------------------------------------


def expected_nodes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["name"], key) for a in spec["assets"] for key in spec["keys"]}


def check_run(doc: Any, spec: dict[str, Any], what: str) -> None:
    """``materialize/backfill --json``: every expected step present and ``success``."""
    steps = doc.get("steps") if isinstance(doc, dict) else None
    if not isinstance(steps, list):
        raise BenchFailure(f"{what}: no 'steps' list in the --json output")
    bad = [s for s in steps if s.get("status") != "success"]
    if bad:
        first = bad[0]
        raise BenchFailure(
            f"{what}: {len(bad)} step(s) did not succeed, e.g. {first.get('asset')}"
            f"[{first.get('partition')}] {first.get('status')}: "
            f"{first.get('error') or first.get('reason')}"
        )
    got = {(s["asset"], s["partition"]) for s in steps}
    want = expected_nodes(spec)
    if got != want or len(steps) != len(want):
        raise BenchFailure(
            f"{what}: {len(steps)} steps, expected {len(want)} "
            f"(missing e.g. {sorted(want - got)[:3]}, unexpected e.g. {sorted(got - want)[:3]})"
        )
    if doc.get("status") != "success":
        raise BenchFailure(f"{what}: run status {doc.get('status')!r}, expected 'success'")


def check_counts(
    doc: Any, spec: dict[str, Any], what: str, stale: dict[str, int] | None = None
) -> None:
    """``status --json``: every asset's counts as expected (all fresh, or ``stale`` per asset)."""
    stale = stale or {}
    assets = doc.get("assets") if isinstance(doc, dict) else None
    if not isinstance(assets, list):
        raise BenchFailure(f"{what}: no 'assets' list in status --json")
    n = len(spec["keys"])
    by_name = {a["asset"]: a.get("counts", {}) for a in assets}
    missing = [a["name"] for a in spec["assets"] if a["name"] not in by_name]
    if missing or len(by_name) != len(spec["assets"]):
        raise BenchFailure(
            f"{what}: status lists {len(by_name)} assets, missing e.g. {missing[:3]}"
        )
    for a in spec["assets"]:
        counts = by_name[a["name"]]
        want_stale = stale.get(a["name"], 0)
        want = {"fresh": n - want_stale, "stale": want_stale}
        got = {k: int(v) for k, v in counts.items() if v}
        if got != {k: v for k, v in want.items() if v}:
            raise BenchFailure(f"{what}: {a['name']} has {got}, expected {want}")


def check_recorded(folder: Path, spec: dict[str, Any], what: str, runs: int = 1) -> None:
    want = spec["materializations"] * runs
    got = recorded_successes(folder)
    if got != want:
        raise BenchFailure(f"{what}: the state file holds {got} successes, expected {want}")


def verify_status(folder: Path, spec: dict[str, Any], what: str) -> None:
    doc = run_timed([*AF, "status", "--json"], folder).json(f"{what}: status --json")
    check_counts(doc, spec, f"{what}: status --json")


# --- results -------------------------------------------------------------------------------------


@dataclass
class Row:
    workload: str
    io: str
    assetflow_s: float | None = None
    floor_s: float | None = None
    ratio: float | None = None
    budget: str = ""
    verdict: str = ""
    floor_one_tx_s: float | None = None
    ratio_one_tx: float | None = None
    n: int = 0
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool, budget: bool = True) -> str:
    if not budget:
        return "info"
    return "ok" if ok else "MISS"


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(rows: Sequence[Row]) -> str:
    head = (
        "| workload | io | assetflow median s | floor median s | ratio (median of pairs) "
        "| budget | verdict | floor one-tx s | ratio vs one-tx | n | note |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r.workload} | {r.io} | {fmt(r.assetflow_s)} | {fmt(r.floor_s)} | "
        f"{fmt(r.ratio, 2)} | {r.budget or '—'} | {r.verdict} | {fmt(r.floor_one_tx_s)} | "
        f"{fmt(r.ratio_one_tx, 2)} | {r.n} | {r.note} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


# --- sections ------------------------------------------------------------------------------------


def bench_ab(name: str, io: str, root: Path, pairs: int, quick: bool) -> Row:
    """A/B pairs: assetflow whole-process vs the floor (per-step and one-transaction)."""
    folder = root / f"{name}-{io}"
    workloads.generate(name, io, folder, quick=quick)
    spec = workloads.load(folder)
    command = [*AF, *spec["command"]]
    floor_step = [*FLOOR, "--folder", str(folder), "--variant", "per-step"]
    floor_tx = [*FLOOR, "--folder", str(folder), "--variant", "one-tx"]
    what = f"{name} io={io}"
    log(
        f"{what}: {spec['description']}, {spec['materializations']} materializations, {pairs} pairs"
    )
    # Warm-up (untimed): bytecode caches, the OS file cache.
    reset(folder)
    check_run(run_timed(command, folder).json(f"{what} warm-up"), spec, f"{what} warm-up")
    run_timed(floor_step, folder).check(f"{what} floor warm-up")
    a_times: list[float] = []
    b_times: list[float] = []
    c_times: list[float] = []
    rss: list[float] = []
    for i in range(pairs):
        reset(folder)
        a = run_timed(command, folder)
        check_run(a.json(f"{what} pair {i + 1}"), spec, f"{what} pair {i + 1}")
        check_recorded(folder, spec, f"{what} pair {i + 1}")
        verify_status(folder, spec, f"{what} pair {i + 1}")
        reset(folder)
        b = run_timed(floor_step, folder).check(f"{what} floor pair {i + 1}")
        reset(folder)
        c = run_timed(floor_tx, folder).check(f"{what} floor one-tx pair {i + 1}")
        a_times.append(a.seconds)
        b_times.append(b.seconds)
        c_times.append(c.seconds)
        rss.append(a.maxrss_mb)
        log(
            f"  pair {i + 1}: assetflow {a.seconds:.3f}s  floor {b.seconds:.3f}s  "
            f"one-tx {c.seconds:.3f}s  ratio {a.seconds / b.seconds:.2f}"
        )
    ratio = median([a / b for a, b in zip(a_times, b_times, strict=True)])
    ratio_tx = median([a / c for a, c in zip(a_times, c_times, strict=True)])
    budgeted = io == "none" and name in ("w1", "w2", "w3")
    return Row(
        name,
        io,
        median(a_times),
        median(b_times),
        ratio,
        f"≤ {RATIO_BUDGET:g}× floor" if budgeted else "",
        verdict(ratio <= RATIO_BUDGET, budgeted),
        median(c_times),
        ratio_tx,
        pairs,
        f"{spec['materializations']} mat.; peak RSS {max(rss):.0f} MB",
        {"assetflow": a_times, "floor": b_times, "floor_one_tx": c_times, "rss_mb": rss},
    )


def bench_cli(root: Path, pairs: int) -> list[Row]:
    """``--help`` and ``list`` on the repository's example, alternating with a bare start-up."""
    log(f"cli: --help, list on the example, python start-up; {pairs} rounds")
    bare = [sys.executable, "-c", "pass"]
    commands = {
        "python -c pass": (bare, REPO),
        "assetflow --help": ([*AF, "--help"], root),
        "assetflow list (example)": ([*AF, "list"], REPO),
    }
    for args, cwd in commands.values():  # warm-up
        run_timed(args, cwd).check("cli warm-up")
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(pairs):
        for label, (args, cwd) in commands.items():
            proc = run_timed(args, cwd).check(label)
            if label != "python -c pass" and not proc.stdout.strip():
                raise BenchFailure(f"{label}: printed nothing")
            times[label].append(proc.seconds)
    bare_s = median(times["python -c pass"])
    rows = [Row("python -c pass", "—", bare_s, budget="", verdict="info", n=pairs)]
    for label, budget in (
        ("assetflow --help", HELP_BUDGET_S),
        ("assetflow list (example)", LIST_BUDGET_S),
    ):
        t = median(times[label])
        rows.append(
            Row(
                label,
                "—",
                t,
                budget=f"< {budget} s",
                verdict=verdict(t < budget),
                n=pairs,
                note=f"{t - bare_s:.3f} s above python start-up",
                details={"times": times[label]},
            )
        )
    return rows


def _python(code: str, cwd: Path) -> Any:
    """Run ``code`` with benchmarks/ on sys.path in a fresh interpreter; its last stdout line as
    JSON (a fresh process, so that loading a project leaves the harness untouched)."""
    prelude = (
        f"import sys, json; sys.path.insert(0, {str(BENCH)!r}); import workloads\n"
        "from pathlib import Path\n"
    )
    proc = run_timed([sys.executable, "-c", prelude + code], cwd).check("setup")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc


def bench_w4(io: str, root: Path, pairs: int, quick: bool) -> list[Row]:
    folder = root / f"w4-{io}"
    workloads.generate("w4", io, folder, quick=quick)
    spec = workloads.load(folder)
    n = spec["materializations"]
    what = f"w4 io={io}"
    log(f"{what}: {spec['description']}: seeding {n:,} materializations through StateStore.append")
    reset(folder)
    seeded, _ = _python(f"print(json.dumps(workloads.seed_w4(Path({str(folder)!r}))))", folder)
    if seeded["materializations"] != n:
        raise BenchFailure(f"{what}: seeded {seeded['materializations']}, expected {n}")
    check_recorded(folder, spec, what)
    size = checkpointed_size(state_path(folder))
    log(
        f"  seeded in {seeded['seconds']:.1f}s (append {seeded['seconds_append']:.1f}s, records "
        f"{seeded['seconds_records']:.1f}s), {seeded['lineage']:,} lineage rows, "
        f"state file {size / 2**20:.1f} MiB"
    )
    status_cmd = [*AF, "status", "--json"]
    plan_cmd = [*AF, "plan", "*", "--json"]
    # First status: the check that everything is fresh, and the warm-up.
    first = run_timed(status_cmd, folder)
    check_counts(first.json(f"{what} first status"), spec, f"{what} first status")
    log(f"  first status (cold): {first.seconds:.2f}s, all {n:,} fresh")
    before: list[float] = []
    rss_before: list[float] = []
    for i in range(pairs):
        proc = run_timed(status_cmd, folder)
        check_counts(proc.json(f"{what} status {i + 1}"), spec, f"{what} status {i + 1}")
        before.append(proc.seconds)
        rss_before.append(proc.maxrss_mb)
        log(f"  status (all fresh) {i + 1}: {proc.seconds:.3f}s, peak RSS {proc.maxrss_mb:.0f} MB")
    changed, _ = _python(
        f"print(json.dumps(workloads.change_w4(Path({str(folder)!r}), {seeded['next_id']})))",
        folder,
    )
    stale = {name: 1 for name in changed["stale_assets"]}
    log(
        f"  changed {changed['asset']}[{changed['partition']}]: expect {len(stale)} stale "
        "partitions downstream"
    )
    after: list[float] = []
    plans: list[float] = []
    rss_plan: list[float] = []
    want_steps = {(name, changed["partition"]) for name in stale}
    for i in range(pairs):
        proc = run_timed(status_cmd, folder)
        check_counts(
            proc.json(f"{what} status after change {i + 1}"),
            spec,
            f"{what} status after change {i + 1}",
            stale,
        )
        after.append(proc.seconds)
        plan = run_timed(plan_cmd, folder)
        doc = plan.json(f"{what} plan after change {i + 1}")
        got = {(s["asset"], s["partition"]) for s in doc.get("steps", [])}
        if got != want_steps or len(doc["steps"]) != len(want_steps):
            raise BenchFailure(
                f"{what}: plan after change has {len(doc.get('steps', []))} steps, expected "
                f"{len(want_steps)} (missing e.g. {sorted(want_steps - got)[:3]}, "
                f"unexpected e.g. {sorted(got - want_steps)[:3]})"
            )
        plans.append(plan.seconds)
        rss_plan.append(plan.maxrss_mb)
        log(f"  after change {i + 1}: status {proc.seconds:.3f}s, plan {plan.seconds:.3f}s")
    label = f"w4 {len(spec['assets'])}×{len(spec['keys'])}"
    setup = (
        f"setup {seeded['seconds']:.0f}s for {n:,} mat. + {seeded['lineage']:,} lineage; "
        f"state {size / 2**20:.0f} MiB ({size / n:.0f} B/mat.)"
    )
    return [
        Row(
            f"{label} status, all fresh",
            io,
            median(before),
            budget=f"< {W4_STATUS_BUDGET_S:g} s",
            verdict=verdict(median(before) < W4_STATUS_BUDGET_S),
            n=pairs,
            note=f"peak RSS {max(rss_before):.0f} MB; cold first {first.seconds:.2f}s; {setup}",
            details={"times": before, "seed": seeded, "state_bytes": size},
        ),
        Row(
            f"{label} status after 1 change",
            io,
            median(after),
            budget=f"< {W4_STATUS_BUDGET_S:g} s",
            verdict=verdict(median(after) < W4_STATUS_BUDGET_S),
            n=pairs,
            note=f"{len(stale)} stale",
            details={"times": after},
        ),
        Row(
            f"{label} plan '*' after 1 change",
            io,
            median(plans),
            budget=f"< {W4_PLAN_BUDGET_S:g} s",
            verdict=verdict(median(plans) < W4_PLAN_BUDGET_S),
            n=pairs,
            note=f"{len(want_steps)} steps; peak RSS {max(rss_plan):.0f} MB",
            details={"times": plans},
        ),
    ]


def bench_w5(io: str, root: Path, pairs: int, run_pairs: int) -> list[Row]:
    folder = root / f"w5-{io}"
    workloads.generate("w5", io, folder)
    spec = workloads.load(folder)
    n = spec["materializations"]
    what = f"w5 io={io}"
    plan_cmd = [*AF, *spec["extra"]["plan"]]
    log(f"{what}: plan of {n:,} hourly partitions ({pairs} runs), then the backfill")
    reset(folder)
    run_timed(plan_cmd, folder).check(f"{what} plan warm-up")
    plan_times: list[float] = []
    plan_rss: list[float] = []
    for i in range(pairs):
        proc = run_timed(plan_cmd, folder)
        steps = proc.json(f"{what} plan {i + 1}").get("steps", [])
        if len(steps) != n:
            raise BenchFailure(f"{what}: plan has {len(steps)} steps, expected {n}")
        plan_times.append(proc.seconds)
        plan_rss.append(proc.maxrss_mb)
        log(f"  plan {i + 1}: {proc.seconds:.3f}s")
    command = [*AF, *spec["command"]]
    floor_step = [*FLOOR, "--folder", str(folder), "--variant", "per-step"]
    floor_tx = [*FLOOR, "--folder", str(folder), "--variant", "one-tx"]
    a_times: list[float] = []
    b_times: list[float] = []
    c_times: list[float] = []
    rss: list[float] = []
    sizes: list[int] = []
    for i in range(run_pairs):
        reset(folder)
        a = run_timed(command, folder)
        check_run(a.json(f"{what} backfill {i + 1}"), spec, f"{what} backfill {i + 1}")
        check_recorded(folder, spec, f"{what} backfill {i + 1}")
        verify_status(folder, spec, f"{what} backfill {i + 1}")
        sizes.append(checkpointed_size(state_path(folder)))
        reset(folder)
        b = run_timed(floor_step, folder).check(f"{what} floor {i + 1}")
        reset(folder)
        c = run_timed(floor_tx, folder).check(f"{what} floor one-tx {i + 1}")
        a_times.append(a.seconds)
        b_times.append(b.seconds)
        c_times.append(c.seconds)
        rss.append(a.maxrss_mb)
        log(
            f"  backfill {i + 1}: assetflow {a.seconds:.2f}s (peak RSS {a.maxrss_mb:.0f} MB)  "
            f"floor {b.seconds:.2f}s  one-tx {c.seconds:.2f}s"
        )
    rows = [
        Row(
            "w5 plan 10,000 hourly",
            io,
            median(plan_times),
            budget=f"< {W5_PLAN_BUDGET_S:g} s",
            verdict=verdict(median(plan_times) < W5_PLAN_BUDGET_S),
            n=pairs,
            note=f"whole process, empty state; peak RSS {max(plan_rss):.0f} MB",
            details={"times": plan_times},
        ),
    ]
    if not run_pairs:
        log(f"  {what}: backfill skipped (--quick)")
        return rows
    peak = max(rss)
    return [
        *rows,
        Row(
            "w5 backfill 10,000 hourly",
            io,
            median(a_times),
            median(b_times),
            median([a / b for a, b in zip(a_times, b_times, strict=True)]),
            f"peak RSS < {W5_RSS_BUDGET_MB:g} MB",
            verdict(peak < W5_RSS_BUDGET_MB),
            median(c_times),
            median([a / c for a, c in zip(a_times, c_times, strict=True)]),
            run_pairs,
            f"peak RSS {peak:.0f} MB; state {max(sizes) / n:.0f} B/mat. (whole file)",
            {
                "assetflow": a_times,
                "floor": b_times,
                "floor_one_tx": c_times,
                "rss_mb": rss,
                "state_bytes": sizes,
            },
        ),
    ]


def bench_store(root: Path, quick: bool) -> list[Row]:
    """State-file growth per materialization (no logs): runs on top of a first run, checkpointed."""
    rows = []
    for name, extra in (("w1", ["--force"]), ("w2", [])):
        folder = root / f"store-{name}"
        workloads.generate(name, "none", folder, quick=quick)
        spec = workloads.load(folder)
        command = [*AF, *spec["command"], *extra]
        what = f"store {name}"
        reset(folder)
        check_run(run_timed(command, folder).json(f"{what} run 1"), spec, f"{what} run 1")
        first = checkpointed_size(state_path(folder))
        repeats = max(3, -(-1000 // spec["materializations"]))  # at least 1,000 mat.
        for i in range(repeats):
            doc = run_timed(command, folder).json(f"{what} run {i + 2}")
            check_run(doc, spec, f"{what} run {i + 2}")
        check_recorded(folder, spec, what, runs=repeats + 1)
        last = checkpointed_size(state_path(folder))
        per = (last - first) / (repeats * spec["materializations"])
        log(f"{what}: {first:,} B after 1 run, {last:,} B after {repeats + 1}: {per:.0f} B/mat.")
        rows.append(
            Row(
                f"state growth per mat. ({name})",
                "none",
                None,
                budget=f"< {STORE_BUDGET_BYTES:g} B",
                verdict=verdict(per < STORE_BUDGET_BYTES),
                n=repeats,
                note=f"{per:.0f} B/mat. ({first:,} → {last:,} B over {repeats}×"
                f"{spec['materializations']} mat.)",
                details={"bytes_per_mat": per},
            ),
        )
    return rows


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="assetflow benchmarks (see benchmarks/README.md)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}"
    )
    parser.add_argument("--io", choices=("none", "duckdb", "both"), default="both")
    parser.add_argument(
        "--pairs", type=int, default=None, help="A/B pairs (default 5; 2 with --quick)"
    )
    parser.add_argument(
        "--w4-pairs",
        type=int,
        default=None,
        help="w4 timed runs (default: 3, or --pairs if smaller)",
    )
    parser.add_argument("--w5-runs", type=int, default=1, help="w5 backfill A/B pairs (default 1)")
    parser.add_argument("--quick", action="store_true", help="2 pairs, w4 at 100 x 100")
    parser.add_argument("--workdir", type=Path, help="where workload folders go (kept)")
    parser.add_argument("--json-out", type=Path, help="write every measurement as JSON")
    parser.add_argument("--markdown-out", type=Path, help="write the table")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    pairs = args.pairs or (2 if args.quick else 5)
    ios = ["none", "duckdb"] if args.io == "both" else [args.io]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="assetflow-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    revision_at_start = _revision()
    log(f"assetflow at {revision_at_start}")
    log(f"workdir {root}; pairs {pairs}; io {', '.join(ios)}; python {sys.executable}")

    rows: list[Row] = []
    failures: list[str] = []

    def attempt(label: str, fn: Callable[[], Row | list[Row]]) -> None:
        t = time.perf_counter()
        try:
            result = fn()
        except BenchFailure as error:
            message = f"FAIL {label}: {error}"
            log(message)
            failures.append(message)
            rows.append(Row(label, "", verdict="FAILED", note=str(error).splitlines()[0][:120]))
            return
        rows.extend(result if isinstance(result, list) else [result])
        log(f"  ({label} took {time.perf_counter() - t:.0f}s)")

    if "cli" in sections:
        attempt("cli", lambda: bench_cli(root, max(pairs, 5)))
    for name in ("w0", "w1", "w2", "w3"):
        if name in sections:
            for io in ios:
                attempt(
                    f"{name} io={io}",
                    lambda name=name, io=io: bench_ab(name, io, root, pairs, args.quick),
                )
    if "w4" in sections:
        w4_pairs = args.w4_pairs or min(pairs, 3)
        for io in ios:
            attempt(f"w4 io={io}", lambda io=io: bench_w4(io, root, w4_pairs, args.quick))
    if "w5" in sections:
        for io in ios:
            # --quick skips the slow io="duckdb" backfill (its plan is still timed).
            runs = 0 if args.quick and io == "duckdb" else args.w5_runs
            attempt(f"w5 io={io}", lambda io=io, runs=runs: bench_w5(io, root, pairs, runs))
    if "store" in sections:
        attempt("store", lambda: bench_store(root, args.quick))

    table = markdown(rows)
    head = _revision()
    if head != revision_at_start:
        # Others edit the library while benchmarks run: say so rather than mix silently.
        head = f"{revision_at_start} at start, {head} at the end (the library changed meanwhile)"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\nassetflow benchmarks, {stamp}, {head}, pairs {pairs}{', quick' if args.quick else ''}\n"
    )
    print(table)
    misses = [r for r in rows if r.verdict == "MISS"]
    print(
        f"{len(misses)} budget(s) missed, {len(failures)} failure(s); "
        f"total {time.perf_counter() - started:.0f}s"
    )
    if args.markdown_out:
        args.markdown_out.write_text(table)
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "date": stamp,
                    "revision": head,
                    "pairs": pairs,
                    "quick": args.quick,
                    "rows": [r.__dict__ for r in rows],
                    "failures": failures,
                },
                indent=1,
                default=str,
            )
        )
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    for message in failures:
        log(message)
    return 1 if failures else 0


def _revision() -> str:
    import subprocess

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "assetflow"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"{rev}{' + uncommitted changes in assetflow/' if dirty else ''}"


if __name__ == "__main__":
    sys.exit(main())
