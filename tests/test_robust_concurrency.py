"""Several assetflow processes on one project at once (SPEC 5, "Several processes may run at
once"), through real subprocesses.

- Two and four ``materialize`` / ``backfill --missing-only`` processes over overlapping ranges of
  a daily asset and its downstream asset, with the default duckdb IO (so the warehouse file is
  handed from process to process): every exit code is 0, every partition of the union has
  exactly one ``success`` across all histories, the other runs report it ``skipped`` with
  ``materialized by run ID`` (only after that success ended), each body ran exactly once (in
  that run), ``runs`` shows every run ``success``, the warehouse holds exactly the
  expected rows, and a downstream step read the other run's upstream success (lineage).
- A run holding a partition that fails: the run waiting for it materializes it itself.
- Readers while a run goes on: ``status --json`` every 0.5 s (latency p50/p95 printed), progress
  visible within 2 seconds; ``runs``, ``run show``, ``why`` and ``logs`` from other processes.

Bugs found here (all but the lock wait with a deterministic test of their own):

- fixed during this work, kept as regression tests: a partition made by a live run between
  this run's planning and its claims was made again
  (test_a_partition_a_live_run_finished_after_planning_is_not_run_again); a downstream step
  made elsewhere was started without its lease, two runs at once
  (test_a_downstream_partition_made_elsewhere_is_skipped_too); a run idle on another run's
  lease kept the warehouse from it, 600 s stall (test_a_run_idle_on_a_lease_hands_over_the_
  warehouse); the 5 s state-file lock wait lost by one of four runs on two busy cores (now 15 s);
  a step that never got the warehouse crashed the whole run
  (test_a_step_that_never_gets_the_warehouse_fails_alone); a run whose running steps do not
  use the warehouse kept it open, idle (test_a_run_busy_elsewhere_hands_over_the_idle_warehouse).

The asset bodies log ``asset, partition, run, start, end`` to ``bodies.log`` (one ``write`` in
append mode per line), so what ran where and when is known independently of assetflow's own
records. Waits are event-driven: a gated partition (``AF_GATE``) blocks its run until the test
writes the ``release`` file, and the test polls for conditions with generous timeouts.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import ProjectFactory, cli_env, run_cli

from assetflow import Project
from assetflow.application import operations

PIPELINE = """\
import os
import pathlib
import time

from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-03-01")
HERE = pathlib.Path(__file__).resolve().parent
SLEEP = float(os.environ.get("AF_SLEEP", "0.02"))
GATE = os.environ.get("AF_GATE", "")  # "asset[key]" that waits for the file `release`
FAIL = os.environ.get("AF_FAIL", "")  # "asset[key]" that raises (after its gate, if any)


def body(context):
    started = time.time()
    time.sleep(SLEEP)
    node = f"{context.asset_name}[{context.partition_key}]"
    if node == GATE:
        (HERE / "gate.tmp").write_text(f"{time.time()!r} {context.run_id}")
        (HERE / "gate.tmp").replace(HERE / "gate")
        deadline = time.monotonic() + 120
        while not (HERE / "release").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never released the gate")
            time.sleep(0.02)
    fields = [context.asset_name, context.partition_key, context.run_id, started, time.time()]
    line = "\\t".join(map(str, fields))
    with open(HERE / "bodies.log", "a") as log:
        log.write(line + "\\n")
    if node == FAIL:
        raise RuntimeError(f"raw failed for {context.partition_key}")


@asset(partitions=DAYS)
def raw(context):
    body(context)
    day = context.partition_key
    return context.warehouse.sql(
        "select $day::date as day, i + $k as v from range(3) t(i)",
        params={"day": day, "k": int(day[-2:])},
    )


@asset(partitions=DAYS)
def daily(context, raw):
    body(context)
    return raw.aggregate("min(day) as day, sum(v) as total, count(*) as n")


@asset(partitions=DAYS, io="none")
def ticket(context):
    body(context)


@asset(partitions=DAYS, deps=["ticket"])
def stamped(context):
    body(context)
    return context.warehouse.sql("select $day::date as day", params={"day": context.partition_key})
"""

ASSETS = ("raw", "daily")
ALL_DAYS = 60  # 2024-01-01 .. 2024-02-29
STATUSES = ("fresh", "stale", "missing", "failed", "running", "waiting")
SKIP_REASON = re.compile(r"^materialized by run (\S+)$")
PROCESS_TIMEOUT_S = 180.0
Node = tuple[str, str]


def days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(n)).isoformat() for n in range((end - start).days + 1)]


def nodes_of(keys: Sequence[str]) -> set[Node]:
    return {(asset, key) for asset in ASSETS for key in keys}


def cli_json(args: Sequence[str], cwd: Path, expect: int = 0) -> Any:
    code, out, err = run_cli([*args, "--json"], cwd)
    assert code == expect, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return json.loads(out)


def cli_many(calls: Sequence[Sequence[str]], cwd: Path) -> list[Any]:
    """``cli_json`` of every call, all at once (each its own process)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda args: cli_json(args, cwd), calls))


@dataclass
class Proc:
    """One ``python -m assetflow ...`` started in the background, output into files."""

    args: list[str]
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    def finish(self, timeout: float = PROCESS_TIMEOUT_S) -> tuple[int, str, str]:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(
                f"assetflow {' '.join(self.args)} still running after {timeout:g}s\n"
                f"{self.err.read_text()}"
            ) from None
        return code, self.out.read_text(), self.err.read_text()


class Procs:
    """Starts processes and kills (by pid, each its own) whatever is left at the end."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.started: list[Proc] = []

    def start(self, args: Sequence[str], **env: str) -> Proc:
        n = len(self.started)
        out, err = self.project / f"proc{n}.out", self.project / f"proc{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", "assetflow", *args],
                cwd=self.project,
                stdout=stdout,
                stderr=stderr,
                env={**cli_env(), **env},
            )
        proc = Proc(list(args), popen, out, err)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait()


@pytest.fixture
def project(make_project: ProjectFactory, clean_imports: None) -> Path:
    return make_project(pipeline=PIPELINE)


@pytest.fixture
def procs(project: Path) -> Iterator[Procs]:
    started = Procs(project)
    try:
        yield started
    finally:
        started.cleanup()


def gate_time(project: Path) -> float | None:
    """When the gated step reached its gate (None before; the file is written in one go)."""
    gate = project / "gate"
    return float(gate.read_text().split()[0]) if gate.exists() else None


def gate_run(project: Path) -> str:
    """The run whose gated step reached its gate (waits for it)."""
    wait_for(lambda: gate_time(project) is not None, "the gated step to reach its gate")
    return (project / "gate").read_text().split()[1]


def wait_for(condition: Any, what: str, timeout: float = 60.0, every: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@dataclass(frozen=True)
class Body:
    asset: str
    partition: str
    run_id: str
    started: float
    ended: float


def bodies(project: Path) -> list[Body]:
    path = project / "bodies.log"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        asset, partition, run_id, started, ended = line.split("\t")
        found.append(Body(asset, partition, run_id, float(started), float(ended)))
    return found


def iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def check_warehouse(project: Path, keys: Sequence[str]) -> None:
    """Exactly 3 ``raw`` rows and one ``daily`` row per partition in ``keys``, nothing else
    (in the warehouse, or in the Parquet files of the project's ``data`` folder)."""
    if (project / "data").exists():
        con = duckdb.connect()
        files = {
            asset: sorted(str(p) for p in (project / "data" / asset).glob("*.parquet"))
            for asset in ASSETS
        }
        raw_rows = con.sql(
            f"select regexp_extract(filename, '([0-9-]+)\\.parquet$', 1), day, v "
            f"from read_parquet({files['raw']}, filename=true) order by all"
        ).fetchall()
        daily_rows = con.sql(
            f"select regexp_extract(filename, '([0-9-]+)\\.parquet$', 1), day, total, n "
            f"from read_parquet({files['daily']}, filename=true) order by all"
        ).fetchall()
        con.close()
    else:
        with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
            raw_rows = con.sql("select _partition, day, v from raw order by all").fetchall()
            daily_rows = con.sql(
                "select _partition, day, total, n from daily order by all"
            ).fetchall()
    expected_raw = [
        (key, date.fromisoformat(key), int(key[-2:]) + i) for key in sorted(keys) for i in range(3)
    ]
    assert raw_rows == expected_raw
    expected_daily = [
        (key, date.fromisoformat(key), 3 * int(key[-2:]) + 3, 3) for key in sorted(keys)
    ]
    assert daily_rows == expected_daily


def check_overlapping_runs(project: Path, outcomes: Sequence[tuple[Proc, int, str, str]]) -> None:
    """The properties shared by the 2- and 4-process tests (see the module docstring)."""
    planned: dict[str, set[Node]] = {}
    documents: dict[str, Any] = {}
    union: set[Node] = set()
    for proc, code, out, err in outcomes:
        assert code == 0, f"assetflow {' '.join(proc.args)}: exit {code}\n{out}\n{err}"
        assert "Traceback" not in err, err
        document = json.loads(out)
        assert document["status"] == "success", document
        run_id = document["run_id"]
        documents[run_id] = document
        first, last = (
            proc.args[proc.args.index("--from") + 1],
            proc.args[proc.args.index("--to") + 1],
        )
        wanted = nodes_of(days(first, last))
        steps = {(s["asset"], s["partition"]) for s in document["steps"]}
        assert len(steps) == len(document["steps"]), "one step per partition"
        # Partitions another run finished before this one planned are not in its plan.
        assert steps <= wanted
        planned[run_id] = steps
        union |= wanted
    assert len(documents) == len(outcomes), "every run has its own id"

    # Every run's history (run show) agrees with what it printed; collect every success.
    successes: dict[Node, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    skipped: dict[str, dict[Node, dict[str, Any]]] = {}
    # The history commands, several at once from other processes (all ended by now).
    run_ids = list(documents)
    *shown_all, listed, status = cli_many(
        [*(["run", "show", r] for r in run_ids), ["runs", "--limit", "50"], ["status", *ASSETS]],
        project,
    )
    for run_id, shown in zip(run_ids, shown_all, strict=True):
        document = documents[run_id]
        assert shown["run_id"] == run_id and shown["status"] == "success"
        assert shown["ended_at"] is not None
        attempts = shown["attempts"]
        assert {a["status"] for a in attempts} <= {"success", "skipped"}, attempts
        recorded = {(a["asset"], a["partition"]): a for a in attempts}
        assert len(recorded) == len(attempts), "one attempt per step, no retries"
        assert set(recorded) == planned[run_id], "history lists exactly the run's steps"
        for step in document["steps"]:
            node = (step["asset"], step["partition"])
            assert recorded[node]["status"] == step["status"], (run_id, node)
            assert recorded[node]["reason"] == step["reason"], (run_id, node)
        skipped[run_id] = {}
        for node, attempt in recorded.items():
            if attempt["status"] == "success":
                successes[node].append((run_id, attempt))
            else:
                skipped[run_id][node] = attempt

    # Exactly one success per partition of the union: none was materialized twice.
    assert set(successes) == union, sorted(union - set(successes))
    doubles = {node: [r for r, _ in found] for node, found in successes.items() if len(found) > 1}
    assert not doubles, f"materialized by more than one run: {doubles}"
    success_of = {node: found[0] for node, found in successes.items()}

    # Every skip names a run that materialized the partition, and happened after it ended.
    crossed = 0
    for run_id, skips in skipped.items():
        for node, attempt in skips.items():
            match = SKIP_REASON.match(attempt["reason"] or "")
            assert match, (run_id, node, attempt["reason"])
            by, success = success_of[node]
            assert match.group(1) == by != run_id, (run_id, node, attempt["reason"])
            assert iso(attempt["started_at"]) >= iso(success["ended_at"]), (run_id, node)
            crossed += 1
    assert crossed > 0, "the runs never met: the test did not exercise waiting"

    # The bodies: exactly one per partition, in the run that recorded its success.
    ran = [(b.asset, b.partition, b.run_id) for b in bodies(project)]
    assert sorted(ran) == sorted((a, k, success_of[(a, k)][0]) for a, k in union)

    # runs --json: every run success, none running, counts as printed.
    runs = {r["run_id"]: r for r in listed["runs"]}
    assert set(runs) == set(documents)
    for run_id, document in documents.items():
        assert runs[run_id]["status"] == "success"
        assert runs[run_id]["ended_at"] is not None
        assert runs[run_id]["counts"] == document["counts"], run_id

    # status: the union fresh, the rest missing, nothing running.
    counts = {a["asset"]: a["counts"] for a in status["assets"]}
    fresh = len(union) // len(ASSETS)
    expected = {**dict.fromkeys(STATUSES, 0), "fresh": fresh, "missing": ALL_DAYS - fresh}
    assert counts == dict.fromkeys(ASSETS, expected)

    # The warehouse, read after every process exited.
    check_warehouse(project, sorted({key for _, key in union}))

    # Each daily success read the raw success of its partition, whichever run made it
    # (lineage, in-process; the first partition and those where the two runs differ).
    api = Project.load(project)
    keys = sorted({key for _, key in union})
    crossing = [k for k in keys if success_of[("daily", k)][0] != success_of[("raw", k)][0]]
    for key in [keys[0], *crossing]:
        graph = api.lineage("daily", key, direction="upstream", depth=1)
        assert graph["root"] == success_of[("daily", key)][1]["materialization_id"]
        upstream = [n["materialization_id"] for n in graph["nodes"] if n["asset"] == "raw"]
        assert upstream == [success_of[("raw", key)][1]["materialization_id"]], key
    print(
        f"\n{len(documents)} runs, {len(union)} partitions, {crossed} steps skipped as "
        f"materialized by another run, {len(crossing)} daily steps read another run's raw"
    )


def run_concurrently(procs: Procs, commands: Sequence[Sequence[str]], sleep: str) -> list[Any]:
    """Start every command at once; wait for them all; ``(proc, code, out, err)`` each."""
    clock = time.monotonic()
    started = [procs.start(args, AF_SLEEP=sleep) for args in commands]
    outcomes = [(proc, *proc.finish()) for proc in started]
    print(f"\n{len(commands)} runs at once took {time.monotonic() - clock:.1f} s")
    return outcomes


# -- overlapping runs ----------------------------------------------------------------------------


def test_two_overlapping_materializations_share_the_work(project: Path, procs: Procs) -> None:
    commands = [
        ["materialize", "daily", "--from", "2024-01-01", "--to", "2024-01-16", "--json"],
        ["materialize", "daily", "--from", "2024-01-09", "--to", "2024-01-24", "--json"],
    ]
    check_overlapping_runs(project, run_concurrently(procs, commands, sleep="0.03"))


def test_four_overlapping_runs_on_worker_processes_share_the_work(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    """The same, with the steps on worker processes (each run its own pool) and the data in
    Parquet files: claims, waits and skips are the coordinators' business, so each partition
    is still made exactly once."""
    toml = '[project]\nname = "t"\nmodules = ["pipeline"]\n\n[storage]\ndata = "data"\n'
    pipeline = PIPELINE.replace(
        "@asset(partitions=DAYS)\ndef raw", '@asset(partitions=DAYS, io="parquet")\ndef raw'
    ).replace(
        "@asset(partitions=DAYS)\ndef daily", '@asset(partitions=DAYS, io="parquet")\ndef daily'
    )
    assert pipeline.count('io="parquet"') == 2
    project = make_project(toml, pipeline=pipeline)
    procs = Procs(project)
    try:
        commands = [
            ["materialize", "daily", "--from", "2024-01-01", "--to", "2024-01-12"],
            ["backfill", "+daily", "--missing-only", "--from", "2024-01-06", "--to", "2024-01-18"],
            ["materialize", "daily", "--from", "2024-01-13", "--to", "2024-01-24"],
            ["backfill", "+daily", "--missing-only", "--from", "2024-01-04", "--to", "2024-01-20"],
        ]
        commands = [[*c, "--json", "--executor", "processes", "--workers", "2"] for c in commands]
        check_overlapping_runs(project, run_concurrently(procs, commands, sleep="0.02"))
    finally:
        procs.cleanup()


def test_four_overlapping_runs_share_the_work(project: Path, procs: Procs) -> None:
    commands = [
        ["materialize", "daily", "--from", "2024-01-01", "--to", "2024-01-12", "--json"],
        ["backfill", "+daily", "--missing-only", "--from", "2024-01-06", "--to", "2024-01-18"],
        ["materialize", "daily", "--from", "2024-01-13", "--to", "2024-01-24", "--json"],
        ["backfill", "+daily", "--missing-only", "--from", "2024-01-04", "--to", "2024-01-20"],
    ]
    commands = [c if "--json" in c else [*c, "--json"] for c in commands]
    check_overlapping_runs(project, run_concurrently(procs, commands, sleep="0.02"))


def status_of(project: Path, asset: str, key: str) -> Any:
    """``asset[key]``'s status, read in-process (cheaper than a CLI call, for polling)."""
    (result,) = Project.load(project).status(asset, partition=key)
    return result


def running_in(project: Path, asset: str, key: str) -> str | None:
    """The run holding ``asset[key]`` ("running in run ID"), or None."""
    result = status_of(project, asset, key)
    if result.status.value != "running":
        return None
    detail = result.reasons[0].detail
    assert detail.startswith("running in run "), detail
    return str(detail.rsplit(" ", 1)[-1])


def claimed_by_other(project: Path, asset: str, key: str, other: str) -> str | None:
    """The run holding ``asset[key]`` if it is not ``other``."""
    holder = running_in(project, asset, key)
    return holder if holder not in (None, other) else None


def test_a_run_waiting_for_a_failed_partition_runs_it_itself(project: Path, procs: Procs) -> None:
    # The holder stops at raw[2024-01-20] (its gate), then fails it.
    holder = procs.start(
        ["materialize", "daily", "--from", "2024-01-17", "--to", "2024-01-20", "--json"],
        AF_GATE="raw[2024-01-20]",
        AF_FAIL="raw[2024-01-20]",
    )
    holder_id = gate_run(project)
    assert running_in(project, "raw", "2024-01-20") == holder_id
    # The waiter claims what is free (2024-01-21, 22) and waits for raw/daily[2024-01-20].
    waiter = procs.start(
        ["materialize", "daily", "--from", "2024-01-18", "--to", "2024-01-22", "--json"]
    )
    waiter_id = wait_for(
        lambda: claimed_by_other(project, "daily", "2024-01-22", holder_id),
        "the second run to claim its partitions",
    )
    assert running_in(project, "raw", "2024-01-20") == holder_id
    (project / "release").write_text("")
    code, out, err = holder.finish()
    assert code == 1, f"{out}\n{err}"
    held = json.loads(out)
    code, out, err = waiter.finish()
    assert code == 0, f"{out}\n{err}"
    waited = json.loads(out)
    assert (held["run_id"], waited["run_id"]) == (holder_id, waiter_id)
    assert waited["status"] == "success"

    held_steps = {(s["asset"], s["partition"]): s for s in held["steps"]}
    assert held_steps[("raw", "2024-01-20")]["status"] == "failed"
    assert held_steps[("daily", "2024-01-20")]["reason"] == "upstream failed: raw[2024-01-20]"
    steps = {(s["asset"], s["partition"]): s for s in waited["steps"]}
    for key in ("2024-01-18", "2024-01-19"):  # the holder made them before or meanwhile
        for asset in ASSETS:
            step = steps.get((asset, key))
            if step is None:
                continue  # made before the waiter planned
            assert (step["status"], step["reason"]) == (
                "skipped",
                f"materialized by run {holder_id}",
            )
    for key in days("2024-01-20", "2024-01-22"):  # 2024-01-20 failed there: made here
        for asset in ASSETS:
            assert steps[(asset, key)]["status"] == "success", steps[(asset, key)]

    # The waiter ran raw[2024-01-20] after the holder's attempt ended, never beside it.
    first, second = [b for b in bodies(project) if (b.asset, b.partition) == ("raw", "2024-01-20")]
    assert (first.run_id, second.run_id) == (holder_id, waiter_id)
    assert second.started >= first.ended
    counts = {a["asset"]: a["counts"] for a in cli_json(["status", *ASSETS], project)["assets"]}
    fresh = len(days("2024-01-17", "2024-01-22"))
    expected = {**dict.fromkeys(STATUSES, 0), "fresh": fresh, "missing": ALL_DAYS - fresh}
    assert counts == dict.fromkeys(ASSETS, expected)
    check_warehouse(project, days("2024-01-17", "2024-01-22"))


def test_a_partition_a_live_run_finished_after_planning_is_not_run_again(
    project: Path, procs: Procs
) -> None:
    """What ``materialize`` does (plan, record the run, claim, run) with the time between
    planning and claiming stretched: under load that time is seconds (the state file is
    contended). Found by the 4-process test (a third of its partitions made twice) and fixed
    meanwhile (LeaseKeeper.done_elsewhere); this keeps it fixed."""
    keys = ["2024-01-01", "2024-01-02"]
    api = Project.load(project)
    plan = api.plan("raw", first=keys[0], last=keys[-1])  # B plans: both partitions missing
    assert [step.node for step in plan.steps] == [("raw", key) for key in keys]
    # A, a live run in another process, makes raw[2024-01-01] and holds raw[2024-01-02].
    holder = procs.start(
        ["materialize", "raw", "--from", keys[0], "--to", keys[-1], "--workers", "1", "--json"],
        AF_GATE=f"raw[{keys[-1]}]",
    )
    holder_id = gate_run(project)
    assert running_in(project, "raw", keys[-1]) == holder_id
    wait_for(lambda: running_in(project, "raw", keys[0]) is None, "raw[2024-01-01] to be let go")

    results: list[Any] = []
    scope = operations.Scope(("raw",), (), None, keys[0], keys[-1])
    waiter = threading.Thread(
        target=lambda: results.append(operations.execute(api.workspace, plan, scope))
    )
    waiter.start()
    try:
        wait_for(lambda: len(api.runs()) == 2, "B's run to start")
    finally:
        (project / "release").write_text("")
        waiter.join(PROCESS_TIMEOUT_S)
    code, out, err = holder.finish()
    assert code == 0, f"{out}\n{err}"
    (result,) = results
    steps = {step.partition: step for step in result.steps}
    # raw[2024-01-02], held by A when B claimed: waited for, skipped (correct).
    assert steps[keys[-1]].status.value == "skipped"
    assert steps[keys[-1]].reason == f"materialized by run {holder_id}"
    # raw[2024-01-01], made by A after B planned: materialized a second time by B.
    ran = [b.run_id for b in bodies(project) if b.partition == keys[0]]
    assert ran == [holder_id], f"raw[{keys[0]}] ran in {ran}"
    assert steps[keys[0]].status.value == "skipped"
    assert steps[keys[0]].reason == f"materialized by run {holder_id}"


def test_a_downstream_partition_made_elsewhere_is_skipped_too(
    project: Path, procs: Procs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B waits for raw[K] and daily[K], both held by A; B's first poll after claiming is held
    back until A has exited, so it finds both made by A at once (under load, B's 0.5 s polls
    meet this whenever A makes both within one poll interval). Found by the 4-process test
    (daily steps started without their lease, two at once) and fixed meanwhile (PlanRunner.run
    skips until no ready node was made elsewhere); this keeps it fixed."""
    from assetflow.runner.leases import LeaseKeeper

    key = "2024-01-05"
    holder = procs.start(
        ["materialize", "daily", "--partition", key, "--json"], AF_GATE=f"raw[{key}]"
    )
    holder_id = gate_run(project)
    polling, holder_exited = threading.Event(), threading.Event()
    original = LeaseKeeper.poll

    def poll(self: LeaseKeeper, force: bool = False) -> Any:
        polling.set()
        holder_exited.wait(PROCESS_TIMEOUT_S)
        return original(self, force)

    monkeypatch.setattr(LeaseKeeper, "poll", poll)
    api = Project.load(project)
    results: list[Any] = []
    waiter = threading.Thread(
        target=lambda: results.append(api.materialize("daily", partition=key))
    )
    waiter.start()
    try:
        assert polling.wait(60), "B never waited for A"
        (project / "release").write_text("")
        code, out, err = holder.finish()
    finally:
        (project / "release").write_text("")
        holder_exited.set()
        waiter.join(PROCESS_TIMEOUT_S)
    assert code == 0, f"{out}\n{err}"
    (result,) = results
    steps = {(step.asset, step.partition): step for step in result.steps}
    reason = f"materialized by run {holder_id}"
    assert (steps[("raw", key)].status.value, steps[("raw", key)].reason) == ("skipped", reason)
    ran = [b.run_id for b in bodies(project) if (b.asset, b.partition) == ("daily", key)]
    assert ran == [holder_id], f"daily[{key}] ran in {ran}"
    assert (steps[("daily", key)].status.value, steps[("daily", key)].reason) == (
        "skipped",
        reason,
    )


def test_a_run_idle_on_a_lease_hands_over_the_warehouse(project: Path, procs: Procs) -> None:
    """B holds ticket[K] (io none, gated) and stamped[K] (duckdb); A makes stamped[K-1], which
    leaves its warehouse open, then waits for B's leases; B then needs the warehouse. Found by
    the 4-process test (a 600 s stall, then one run crashed) and fixed meanwhile
    (Warehouse.hand_over_if_idle); this keeps it fixed."""
    first, key = "2024-01-01", "2024-01-02"
    holder = procs.start(
        ["materialize", "stamped", "--partition", key, "--json"], AF_GATE=f"ticket[{key}]"
    )
    holder_id = gate_run(project)
    waiter = procs.start(["materialize", "stamped", "--from", first, "--to", key, "--json"])
    wait_for(
        lambda: status_of(project, "stamped", first).status.value == "fresh",
        "the second run to make stamped[2024-01-01] (it has the warehouse open now)",
        every=0.2,
    )
    assert running_in(project, "stamped", key) == holder_id
    (project / "release").write_text("")
    # Normally both end within a few seconds of the release.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and None in (holder.popen.poll(), waiter.popen.poll()):
        time.sleep(0.2)
    stuck = [p.args for p in (holder, waiter) if p.popen.poll() is None]
    assert not stuck, f"still running 30 s after the release: {stuck}"
    assert holder.finish()[0] == 0 and waiter.finish()[0] == 0


def test_a_step_that_never_gets_the_warehouse_fails_alone(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another DuckDB client keeps the warehouse open; the wait is cut to 1 s in-process (the
    CLI would wait 600 s, as in the 4-process deadlock)."""
    from assetflow.io import warehouse as warehouse_module

    monkeypatch.setattr(warehouse_module, "WAREHOUSE_WAIT_S", 1.0)
    key = "2024-01-01"
    hold = (
        "import duckdb, time; c = duckdb.connect('warehouse.duckdb'); print('open'); time.sleep(60)"
    )
    client = subprocess.Popen(
        [sys.executable, "-u", "-c", hold], cwd=project, stdout=subprocess.PIPE, text=True
    )
    try:
        assert client.stdout is not None and client.stdout.readline().strip() == "open"
        api = Project.load(project)
        result = api.materialize(["raw", "ticket"], partition=key)
    finally:
        client.kill()
        client.wait()
    steps = {step.asset: step for step in result.steps}
    assert result.status.value == "failed"
    assert steps["ticket"].status.value == "success"  # it does not use the warehouse
    assert steps["raw"].status.value == "failed"
    assert "stayed locked" in (steps["raw"].error or "")


def test_a_run_busy_elsewhere_hands_over_the_idle_warehouse(project: Path, procs: Procs) -> None:
    """A makes stamped[K-1] (opening the warehouse), then runs ticket[K] (io none), gated;
    B needs the warehouse for raw[J] meanwhile."""
    first, key = "2024-01-01", "2024-01-02"
    busy = procs.start(
        ["materialize", "stamped", "--from", first, "--to", key, "--workers", "1", "--json"],
        AF_GATE=f"ticket[{key}]",
    )
    gate_run(project)
    other = procs.start(["materialize", "raw", "--partition", "2024-01-05", "--json"])
    try:
        # The file is unused: B should get it about a second after it asks.
        code = other.popen.wait(timeout=12)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        (project / "release").write_text("")
    assert code == 0, "B did not get the warehouse while A ran only an io-none step"
    assert busy.finish()[0] == 0


# -- readers while a run goes on -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    started: float  # time.time()
    latency: float
    counts: dict[str, int]


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def status_loop(project: Path, procs: Procs) -> dict[str, Any]:
    """Run a 30-partition materialization (one step at a time, 100 ms each, the last one gated)
    and call ``status --json`` every 0.5 s from other processes until it is over.

    Returns the calls and the latency figures; asserts on every call as it goes.
    """
    keys = days("2024-01-01", "2024-01-30")
    run = procs.start(
        ["materialize", "raw", "--from", keys[0], "--to", keys[-1], "--workers", "1", "--json"],
        AF_SLEEP="0.1",
        AF_GATE=f"raw[{keys[-1]}]",
    )
    args = ["status", "raw", "--from", keys[0], "--to", keys[-1], "--json"]
    calls: list[Call] = []
    released = False
    gate_at: float | None = None
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while True:
        ended = run.popen.poll() is not None
        started, clock = time.time(), time.monotonic()
        code, out, err = run_cli(args, project)
        latency = time.monotonic() - clock
        assert code == 0, f"status during the run: exit {code}\n{out}\n{err}"
        (record,) = json.loads(out)["assets"]
        assert record["asset"] == "raw" and set(record["counts"]) == set(STATUSES)
        assert sum(record["counts"].values()) == len(keys)
        calls.append(Call(started, latency, record["counts"]))
        if ended:
            break  # this last call started after the run had exited
        assert time.monotonic() < deadline, "the run did not end"
        gate = project / "gate"
        if gate_at is None and gate.exists():
            gate_at = gate_time(project)
        # Released once a call started 2 s after every other step had finished has answered.
        if not released and gate_at is not None and started >= gate_at + 2.0:
            (project / "release").write_text("")
            released = True
        time.sleep(max(0.0, 0.5 - (time.monotonic() - clock)))
    code, out, err = run.finish()
    assert code == 0, f"{out}\n{err}"
    assert gate_at is not None
    assert json.loads(out)["counts"] == {"success": len(keys)}

    fresh = [c.counts["fresh"] for c in calls]
    assert fresh == sorted(fresh), f"progress went backwards: {fresh}"
    assert calls[-1].counts == {**dict.fromkeys(STATUSES, 0), "fresh": len(keys)}
    during = [c for c in calls[:-1] if 0 < c.counts["fresh"] < len(keys)]
    assert during, f"no call saw the run half done: {[c.counts for c in calls]}"
    assert any(c.counts["running"] > 0 for c in during)
    for call in during:  # not fresh yet = claimed by the run: running, not missing
        assert call.counts["fresh"] + call.counts["running"] == len(keys), call.counts
    # SPEC 5: progress visible within 2 seconds. While the gate holds the last step, every
    # call that started 2 s after the 29 others had finished sees all 29 fresh.
    late = [c for c in calls[:-1] if gate_at + 2.0 <= c.started and c.counts["fresh"] < len(keys)]
    assert late, "no call was made while the gate held"
    for call in late:
        assert call.counts == {**dict.fromkeys(STATUSES, 0), "fresh": 29, "running": 1}
    latencies = [c.latency for c in calls]
    return {
        "calls": len(calls),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
    }


def test_status_from_another_process_shows_progress(project: Path, procs: Procs) -> None:
    figures = status_loop(project, procs)
    print(
        f"\nstatus --json during a run: {figures['calls']} calls, p50 {figures['p50_s']} s, "
        f"p95 {figures['p95_s']} s, max {figures['max_s']} s"
    )
    assert figures["calls"] >= 4


def test_runs_show_and_why_from_another_process(project: Path, procs: Procs) -> None:
    keys = days("2024-01-01", "2024-01-04")
    run = procs.start(
        ["materialize", "daily", "--from", keys[0], "--to", keys[-1], "--workers", "1", "--json"],
        AF_GATE=f"raw[{keys[-1]}]",
    )
    run_id = gate_run(project)

    # Its history so far: every step before the gate (visible within seconds, polled).
    done = nodes_of(keys[:-1])

    def shown_so_far() -> Any:
        shown = cli_json(["run", "show", run_id], project)
        found = {(a["asset"], a["partition"]) for a in shown["attempts"]}
        return shown if found == done else None

    shown = wait_for(shown_so_far, "run show to list the finished steps", timeout=30)
    assert shown["status"] == "running" and shown["ended_at"] is None
    assert {a["status"] for a in shown["attempts"]} == {"success"}

    # Several readers at once while the run holds its last step.
    listed, running, why_last, why_first, why_missing, logs = cli_many(
        [
            ["runs"],
            ["runs", "--status", "running"],
            ["why", "daily", keys[-1]],
            ["why", "daily", keys[0]],
            ["why", "raw", "2024-02-01"],
            ["logs", "raw", "--run", run_id],
        ],
        project,
    )
    (live,) = listed["runs"]
    assert live["run_id"] == run_id and live["status"] == "running" and live["ended_at"] is None
    assert live["pid"] == run.popen.pid and live["kind"] == "materialize"
    assert live["counts"] == {"success": len(done)}
    assert running["runs"] == [live]
    link = why_last["chain"][0]
    assert (link["asset"], link["status"]) == ("daily", "running"), why_last
    assert link["reasons"][0]["kind"] == "running" and run_id in link["reasons"][0]["detail"]
    assert why_first["chain"][0]["status"] == "fresh"
    assert why_missing["chain"][0]["status"] == "missing"
    assert isinstance(logs["logs"], list)

    (project / "release").write_text("")
    code, out, err = run.finish()
    assert code == 0, f"{out}\n{err}"
    listed, why_last = cli_many([["runs"], ["why", "daily", keys[-1]]], project)
    (after,) = listed["runs"]
    assert after["run_id"] == run_id and after["status"] == "success"
    assert after["counts"] == {"success": 2 * len(keys)}
    assert why_last["chain"][0]["status"] == "fresh"
