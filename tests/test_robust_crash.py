"""Crash and cancellation guarantees of SPEC 5 (Running), with real subprocesses and signals.

Every test runs the real command line (``python -m assetflow``) on a small project in
``tmp_path``: ``events`` (daily, 40 days; each partition sleeps 20 ms and returns 3 rows tagged
with its key, as a pyarrow table) and ``events_copy`` (daily, identity of ``events``): 80 steps,
about 3 s of work.

- ``test_kill9_then_rerun`` (10 cases, 2 kills each: 20 ``kill -9`` at seeded moments spread
  from just after a run starts to near its end): a backfill is killed, then its re-run
  (``backfill resume`` in half of the cases, ``materialize`` of the range in the other half) is
  killed, then the re-run is run again to completion. After each kill the run shows
  ``crashed`` at once and every success it recorded has its rows committed; the last re-run
  runs exactly the partitions no killed run recorded; at the end every partition is fresh, has
  its 3 rows in the warehouse (none lost, none duplicated) and a success in history, and no run
  is left ``running``.
- ``test_signal_cancels_the_run``: SIGINT / SIGTERM mid-run: exit 130, the run ``cancelled``,
  each recorded success with its rows, a re-run runs exactly the rest.
- ``test_signal_at_an_exact_point``: the same guarantees when the signal lands in one of the
  millisecond windows of a run's bookkeeping (delivered there on purpose, see ``INJECT``).
- ``test_kill9_backfill_...``: after kill -9 the run is ``crashed`` for every command at once,
  the backfill is listed ``crashed``, and ``backfill resume`` runs exactly the rest.

The warehouse and the state file are only opened (read-only) while no assetflow process runs.
Set ``ASSETFLOW_CRASH_FIGURES=path`` to append the figures of each kill case to ``path`` (JSON
lines, also printed, see ``-s``); ``summarize`` totals them.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import cli_env, run_cli, write_project

from assetflow import Project

# -- the project -------------------------------------------------------------------------------

TOML = """\
[project]
name = "crash"
modules = ["pipeline"]

[executor]
workers = 2
"""

# pyarrow is imported in the body: commands that only load the project (runs, status) start
# faster, which keeps the many subprocesses here affordable.
PIPELINE = """\
import time

from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-02-10")


@asset(partitions=DAYS)
def events(context):
    import pyarrow as pa

    time.sleep(0.02)
    key = context.partition_key
    return pa.table({"day": [key] * 3, "n": [0, 1, 2]})


@asset(partitions=DAYS)
def events_copy(events):
    return events
"""

FIRST, LAST = "2024-01-01", "2024-02-09"
DAYS = [f"2024-01-{d:02d}" for d in range(1, 32)] + [f"2024-02-{d:02d}" for d in range(1, 10)]
ASSETS = ("events", "events_copy")
ALL = frozenset(f"{asset}[{day}]" for asset in ASSETS for day in DAYS)
ROWS = 3  # rows per partition
BACKFILL = ["backfill", *ASSETS, "--from", FIRST, "--to", LAST]
MATERIALIZE = ["materialize", *ASSETS, "--from", FIRST, "--to", LAST]
TIMEOUT = 90.0  # for any one wait on a subprocess

HEADER = re.compile(r"^run (\S+): (\d+) step\(s\)$")
OK = re.compile(r"^ok\s+(\S+\[\S+\])\s")


def make_project(root: Path) -> Path:
    return write_project(root, TOML, pipeline=PIPELINE)


def node(record: dict[str, Any]) -> str:
    return f"{record['asset']}[{record['partition']}]"


# -- subprocesses ------------------------------------------------------------------------------


def cli(args: list[str], cwd: Path, expect: int = 0) -> str:
    code, out, err = run_cli(args, cwd, timeout=TIMEOUT)
    assert code == expect, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return out


def cli_json(args: list[str], cwd: Path, expect: int = 0) -> Any:
    return json.loads(cli([*args, "--json"], cwd, expect))


class Running:
    """``python -m assetflow ARGS --json`` started in the background; a thread reads its
    progress lines (stderr) as they come, so that a test can act at a given step."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assetflow", *args, "--json"],
            cwd=cwd,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.eof = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.eof = True
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def ok_nodes(self) -> list[str]:
        """The steps reported ``ok`` so far, in order."""
        with self._changed:
            return [m.group(1) for line in self.lines if (m := OK.match(line))]

    def wait_until(self, what: str, found: Callable[[list[str]], Any]) -> Any:
        """Wait until ``found(lines)`` is truthy and return it; fail (and kill) otherwise."""
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while True:
                result = found(self.lines)
                if result or self.eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        if not result:
            self.stop()
            pytest.fail(f"never saw {what}; exit {self.proc.returncode}:\n{self.text}")
        return result

    def wait_started(self) -> str:
        """The run id, once the run's header line is out (the run is recorded by then)."""
        return self.wait_header()[0]

    def wait_header(self) -> tuple[str, int]:
        """The run id and its number of steps, from the run's header line."""

        def header(lines: list[str]) -> tuple[str, int] | None:
            found = (m for line in lines if (m := HEADER.match(line)))
            return next(((m.group(1), int(m.group(2))) for m in found), None)

        return self.wait_until("the run's header", header)

    def wait_ok(self, count: int) -> None:
        """Wait until ``count`` steps are reported ``ok``."""
        self.wait_until(
            f"{count} ok steps", lambda lines: sum(bool(OK.match(x)) for x in lines) >= count
        )

    def finish(self) -> int:
        """Wait for the process to exit (reaped: no zombie) and for its last line."""
        code = self.proc.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()


# -- reading the files directly (only while no assetflow process runs) -------------------------


def warehouse_rows(project: Path) -> dict[str, tuple[int, int, bool]]:
    """Per stored partition (``asset[key]``): (rows, distinct n, every row's day is the key)."""
    path = project / "warehouse.duckdb"
    if not path.exists():
        return {}
    found: dict[str, tuple[int, int, bool]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
        for asset in ASSETS:
            if asset not in tables:
                continue
            query = (
                f"select _partition, count(*), count(distinct n), bool_and(day = _partition) "
                f"from {asset} group by _partition"
            )
            for key, rows, distinct, tagged in con.execute(query).fetchall():
                found[f"{asset}[{key}]"] = (rows, distinct, bool(tagged))
    return found


def state_query(project: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(project / ".assetflow" / "state.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def recorded_successes(project: Path, run_id: str | None = None) -> set[str]:
    """``asset[key]`` of every success in history (of one run, if given)."""
    sql = "select asset, partition from materializations where status = 'success'"
    rows = (
        state_query(project, sql)
        if run_id is None
        else state_query(project, sql + " and run_id = ?", [run_id])
    )
    return {f"{asset}[{key}]" for asset, key in rows}


def partition_statuses(project: Path, *, in_process: bool = False) -> dict[str, str]:
    """``status --partitions --json``, by ``asset[key]``: from the command line, or from the
    same API in this process (``in_process``; needs the ``clean_imports`` fixture), which
    saves a subprocess where a test makes many."""
    if in_process:
        records = [r.to_json() for r in Project.load(project).status(list(ASSETS))]
    else:
        records = cli_json(["status", *ASSETS, "--partitions"], project)["partitions"]
    return {node(r): r["status"] for r in records}


def assert_complete(project: Path, *, in_process: bool = False) -> None:
    """The end state after any sequence of crashes and re-runs: all fresh, every partition
    stored exactly once with its 3 rows, a success for each in history, no run running."""
    statuses = partition_statuses(project, in_process=in_process)
    assert set(statuses) == ALL
    assert {n: s for n, s in statuses.items() if s != "fresh"} == {}
    stored = warehouse_rows(project)  # every assetflow process has exited
    assert set(stored) == ALL, f"lost: {sorted(ALL - set(stored))}"
    wrong = {n: v for n, v in stored.items() if v != (ROWS, ROWS, True)}
    assert wrong == {}, f"partitions without exactly {ROWS} rows (rows, distinct, tagged): {wrong}"
    assert recorded_successes(project) == ALL
    stored_statuses = state_query(project, "select run_id, status, ended_at from runs")
    assert [r for r in stored_statuses if r[1] == "running" or r[2] is None] == []


def assert_successes_committed(project: Path, run_id: str) -> set[str]:
    """Every success ``run_id`` recorded has its rows in the warehouse; returns them."""
    successes = recorded_successes(project, run_id)
    stored = warehouse_rows(project)
    missing = {n: stored.get(n) for n in successes if stored.get(n) != (ROWS, ROWS, True)}
    assert missing == {}, f"recorded success without its committed rows: {missing}"
    return successes


def run_of(document: dict[str, Any], run_id: str) -> dict[str, Any]:
    (run,) = [r for r in document["runs"] if r["run_id"] == run_id]
    return run


# -- 1. kill -9 at seeded moments, then re-run ------------------------------------------------

SEED = 20241125
CASES = 10  # each kills twice: 20 kills
LAST_TARGET = 72  # of the backfill's 80 steps: the kill still lands before the run ends


@dataclass(frozen=True)
class Case:
    """Kill the backfill once ``first`` steps are ok (``first_delay`` s later), then kill the
    re-run once ``second`` of its steps are ok (a fraction of its planned steps), then re-run
    again to completion. The re-runs are ``backfill resume`` or ``materialize`` of the range."""

    case: int
    rerun: str
    first: int
    first_delay: float
    second: float  # fraction of the re-run's steps
    second_delay: float

    @property
    def id(self) -> str:
        return f"{self.case:02d}-{self.rerun}-ok{self.first}-then{self.second:.2f}"


def kill_cases(seed: int = SEED, count: int = CASES) -> list[Case]:
    """Seeded kill moments, stratified so that they span the runs: the backfill's kills over
    steps 0..LAST_TARGET, the re-runs' kills over fractions 0..1 of their steps (in a seeded
    order). A kill at 0 steps lands after the run's header line, in the first steps (up to
    0.3 s later); any other kill a few ms after its step's line: mid-step, mid-commit or
    mid-flush. Even cases resume the backfill, odd ones materialize the range."""
    rng = random.Random(seed)
    order = list(range(count))
    rng.shuffle(order)
    cases = []
    for i in range(count):
        low, high = i * LAST_TARGET // count, (i + 1) * LAST_TARGET // count
        first = 0 if i == 0 else rng.randrange(low, high)
        j = order[i]
        second = 0.0 if j == 0 else rng.uniform(j / count, (j + 1) / count)
        cases.append(
            Case(
                case=i,
                rerun="resume" if i % 2 == 0 else "materialize",
                first=first,
                first_delay=rng.uniform(0.0, 0.3 if first == 0 else 0.04),
                second=second,
                second_delay=rng.uniform(0.0, 0.3 if second == 0 else 0.04),
            )
        )
    return cases


CASES_LIST = kill_cases()


@dataclass
class KillFigures:
    case: int
    run: str  # the command killed: backfill, resume or materialize
    planned: int  # steps in its plan
    after_ok: int  # target: ok lines before the kill
    ok_seen: int  # ok lines read when the kill was sent
    recorded: int  # successes the killed run had recorded
    committed_unrecorded: int  # partitions with rows but no success in history, after it


def kill_at(
    project: Path, args: list[str], case: int, target: Callable[[int], int], delay: float
) -> tuple[dict[str, Any], KillFigures]:
    """Run ``args``; SIGKILL it ``delay`` s after ``target(planned steps)`` steps are ok; check
    what any other command sees at once: the run crashed, every success it recorded with its
    rows. Returns its ``runs --json`` record and the figures."""
    running = Running(args, project)
    run_id, planned = running.wait_header()
    after = target(planned)
    if after:
        running.wait_ok(after)
    time.sleep(delay)
    ok_seen = len(running.ok_nodes())
    assert running.proc.poll() is None, f"the run ended before the kill:\n{running.text}"
    running.proc.send_signal(signal.SIGKILL)
    assert running.finish() == -signal.SIGKILL

    # At once (no waiting for a stale heartbeat): the run is crashed, not running.
    runs = cli_json(["runs"], project)
    assert [r["run_id"] for r in runs["runs"] if r["status"] not in ("crashed", "success")] == []
    run = run_of(runs, run_id)
    assert run["status"] == "crashed" and run["ended_at"] is not None, run
    recorded = run["counts"].get("success", 0)
    # Never a success without its data (the other way round is allowed: replaced on re-run).
    successes = assert_successes_committed(project, run_id)
    assert len(successes) == recorded
    unrecorded = set(warehouse_rows(project)) - recorded_successes(project)
    figures = KillFigures(
        case=case,
        run=args[0] if args[0] != "backfill" or args[1] != "resume" else "resume",
        planned=planned,
        after_ok=after,
        ok_seen=ok_seen,
        recorded=recorded,
        committed_unrecorded=len(unrecorded),
    )
    return run, figures


def kill_twice_and_recover(project: Path, case: Case) -> dict[str, Any]:
    """Backfill, kill -9; re-run, kill -9; re-run to completion; check the end state."""
    make_project(project)
    run, first = kill_at(project, BACKFILL, case.case, lambda _: case.first, case.first_delay)
    rerun = ["backfill", "resume", run["backfill_id"]] if case.rerun == "resume" else MATERIALIZE
    # Leave the re-run a few steps after the kill target, so that the kill lands before its end.
    _, second = kill_at(
        project, rerun, case.case, lambda n: int(case.second * max(n - 8, 0)), case.second_delay
    )

    had_rows = set(warehouse_rows(project))
    recorded = recorded_successes(project)  # by either killed run
    document = cli_json(rerun, project)
    assert document["status"] == "success"
    steps = [node(s) for s in document["steps"]]
    assert len(steps) == len(set(steps))
    assert {s["status"] for s in document["steps"]} <= {"success"}
    # Exactly the rest: what neither killed run recorded as succeeded.
    assert set(steps) == ALL - recorded

    assert_complete(project, in_process=True)
    # The runs that started later recorded the dead ones as crashed, ended at their last beat.
    stored = state_query(project, "select status, count(*) from runs group by all")
    assert sorted(stored) == [("crashed", 2), ("success", 1)]
    return {
        "case": case.case,
        "rerun": case.rerun,
        "kills": [asdict(first), asdict(second)],
        "final_steps": len(steps),
        "redone": len(had_rows & set(steps)),  # had rows, no success: replaced, not duplicated
    }


def summarize(cases: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the cases of test_kill9_then_rerun (see ASSETFLOW_CRASH_FIGURES)."""
    cases = list(cases)
    kills = [k for c in cases for k in c["kills"]]
    return {
        "kills": len(kills),
        "before_first_ok_line": sum(k["ok_seen"] == 0 for k in kills),
        "before_first_recorded_success": sum(k["recorded"] == 0 for k in kills),
        "steps_rerun": sum(k["planned"] for k in kills if k["run"] != "backfill")
        + sum(c["final_steps"] for c in cases),
        "final_steps": sum(c["final_steps"] for c in cases),
        "redone_with_committed_rows": sum(c["redone"] for c in cases),
        "max_committed_unrecorded": max((k["committed_unrecorded"] for k in kills), default=0),
    }


@pytest.mark.parametrize("case", CASES_LIST, ids=[c.id for c in CASES_LIST])
def test_kill9_then_rerun(tmp_path: Path, case: Case, clean_imports: None) -> None:
    figures = kill_twice_and_recover(tmp_path / "project", case)
    print(f"\nkills {case.id}: {json.dumps(figures)}")
    out = os.environ.get("ASSETFLOW_CRASH_FIGURES")
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(figures) + "\n")


def test_kill_moments_span_the_runs() -> None:
    """The seeded moments: 20 distinct ones, from the very start of a run to near its end."""
    firsts = [c.first for c in CASES_LIST]
    seconds = [c.second for c in CASES_LIST]
    assert 2 * len(CASES_LIST) >= 20
    assert len(set(firsts)) == len(set(seconds)) == len(CASES_LIST)
    assert firsts.count(0) == seconds.count(0) == 1
    assert max(firsts) >= 65 and max(seconds) >= 0.9
    assert sum(c.rerun == "resume" for c in CASES_LIST) == len(CASES_LIST) // 2
    assert kill_cases() == CASES_LIST  # deterministic


# -- 2, 3. SIGINT and SIGTERM cancel the run ----------------------------------------------------

CANCEL_AFTER = 12  # ok steps before the signal


@pytest.mark.parametrize(("signame", "rerun"), [("SIGINT", "materialize"), ("SIGTERM", "resume")])
def test_signal_cancels_the_run(tmp_path: Path, signame: str, rerun: str) -> None:
    """A signal mid-run, at whatever moment a few steps have ended. (The stricter checks that
    a signal at an unlucky instant still breaks are in test_signal_at_an_exact_point.)"""
    project = make_project(tmp_path / "project")
    running = Running(BACKFILL, project)
    run_id = running.wait_started()
    running.wait_ok(CANCEL_AFTER)
    running.proc.send_signal(getattr(signal, signame))
    assert running.finish() == 130, running.text
    assert f"run {run_id} cancelled" in running.text
    assert "Traceback" not in running.text
    ok = set(running.ok_nodes())  # also the steps that ended while the run was stopping
    assert len(ok) >= CANCEL_AFTER

    run = run_of(cli_json(["runs"], project), run_id)
    assert run["status"] == "cancelled" and run["ended_at"] is not None
    assert run["counts"]["success"] >= len(ok)
    shown = cli_json(["run", "show", run_id], project)
    assert shown["status"] == "cancelled"
    successes = {node(a) for a in shown["attempts"] if a["status"] == "success"}
    others = [a for a in shown["attempts"] if a["status"] != "success"]
    assert ok <= successes, "every step reported ok is recorded as succeeded"
    assert {(a["status"], a["reason"]) for a in others} == {("skipped", "run cancelled")}
    assert successes | {node(a) for a in others} == ALL
    # Nothing recorded as succeeded that did not complete: each success has its rows.
    stored = warehouse_rows(project)
    assert successes <= set(stored)
    assert all(v == (ROWS, ROWS, True) for v in stored.values()), stored
    assert {a["row_count"] for a in shown["attempts"] if a["status"] == "success"} == {ROWS}

    # A re-run runs exactly the rest: nothing already fresh.
    if rerun == "resume":
        backfill = cli_json(["backfill", "show", run["backfill_id"]], project)
        assert backfill["status"] == "cancelled"
        assert backfill["run_ids"] == [run_id] and backfill["done"] == len(successes)
        document = cli_json(["backfill", "resume", run["backfill_id"]], project)
    else:
        document = cli_json(MATERIALIZE, project)
    assert document["status"] == "success"
    steps = [node(s) for s in document["steps"]]
    assert sorted(steps) == sorted(ALL - successes)
    assert_complete(project)


# A signal can land anywhere, also in the few milliseconds while the run does its bookkeeping:
# as it claims its partitions, between starting a step and noting it, between a step's end and
# noting it, as it writes its last batch of records, as it updates its backfill. Waiting for
# such an instant by timing is hopeless, so the signal is sent there on purpose: the command
# runs under a wrapper that patches one method to send SIGINT to its own process just before or
# just after the real call (its Nth call; for StateStore.append, counting only the call that
# writes the run's end; for _Batch.write, only batches of steps written before it). The same
# wrapper sends SIGKILL at an exact point. The patched methods are internals: if one is
# renamed, the wrapper fails loudly rather than testing nothing.
INJECT = """\
import importlib
import os
import signal
import sys

target, when, nth, signame = (sys.argv.pop(1) for _ in range(4))
nth = int(nth)
module_name, _, qualname = target.partition(":")
owner_name, _, method = qualname.partition(".")
owner = getattr(importlib.import_module(module_name), owner_name)
original = getattr(owner, method)
calls = []


def patched(self, *args, **kwargs):
    if method == "append" and not (kwargs.get("runs_ended") or (len(args) > 4 and args[4])):
        return original(self, *args, **kwargs)  # only the batch that ends the run counts
    if method == "write" and (self.runs_ended or not self.materializations):
        return original(self, *args, **kwargs)  # only batches of steps, before the run's end
    calls.append(True)
    fire = len(calls) == nth
    if fire:
        print(f"inject: {signame} {when} {target} #{nth}", file=sys.stderr, flush=True)
        if when == "before":
            os.kill(os.getpid(), getattr(signal, signame))
    result = original(self, *args, **kwargs)
    if fire and when == "after":
        os.kill(os.getpid(), getattr(signal, signame))
    return result


setattr(owner, method, patched)
sys.argv[0] = "assetflow"
from assetflow.cli import main

main()
"""

SHORT = ["backfill", *ASSETS, "--from", FIRST, "--to", "2024-01-05"]  # 10 steps
SHORT_NODES = frozenset(f"{asset}[2024-01-{day:02d}]" for asset in ASSETS for day in range(1, 6))
STORE = "assetflow.store.store:StateStore"


def run_injected(
    project: Path,
    target: str,
    when: str,
    nth: int,
    signame: str = "SIGINT",
    command: list[str] = SHORT,
) -> subprocess.CompletedProcess[str]:
    """Backfill SHORT (or run ``command``) under the INJECT wrapper; checks that the signal
    was sent."""
    completed = subprocess.run(
        [sys.executable, "-c", INJECT, target, when, str(nth), signame, *command, "--json"],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    marker = f"inject: {signame} {when} {target} #{nth}"
    assert marker in completed.stderr, completed.stderr  # it did land there
    return completed


def _point(target: str, when: str, nth: int, bug: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=f"bug: {bug}")] if bug else []
    name = target.rpartition(":")[2]
    return pytest.param(target, when, nth, marks=marks, id=f"{when}-{name}-{nth}")


@pytest.mark.parametrize(
    ("target", "when", "nth"),
    [
        _point(f"{STORE}.acquire_leases", "before", 1),
        _point("concurrent.futures:ThreadPoolExecutor.submit", "after", 4),
        _point("concurrent.futures:Future.result", "after", 3),
        _point(f"{STORE}.append", "before", 1),
        _point(f"{STORE}.append", "after", 1),
        _point(f"{STORE}.update_backfill", "before", 1),
        _point(f"{STORE}.create_backfill", "after", 1),
        _point("assetflow.runner.step:StepEnvironment.__init__", "after", 1),
    ],
)
def test_signal_at_an_exact_point(tmp_path: Path, target: str, when: str, nth: int) -> None:
    """Wherever Ctrl-C lands, the command ends cleanly (0 or 130, no traceback); its run is
    recorded 'success' (only when every step succeeded) or 'cancelled', never 'crashed' or
    'running'; each step has one outcome; the warehouse holds exactly the partitions recorded
    as succeeded (running steps were awaited); and its backfill agrees with the run."""
    project = make_project(tmp_path / "project")
    completed = run_injected(project, target, when, nth)
    err = completed.stderr
    assert completed.returncode in (0, 130), err
    assert "Traceback" not in err, err
    # Read from the file: a run left 'running' there shows 'crashed' to the commands.
    ((run_id, status, ended),) = state_query(project, "select run_id, status, ended_at from runs")
    expected = {"success", "cancelled"} if completed.returncode == 130 else {"success"}
    assert status in expected and ended is not None, (status, err)
    rows = state_query(
        project,
        "select asset, partition, list(status order by status) from materializations group by all",
    )
    outcomes = {f"{asset}[{key}]": statuses for asset, key, statuses in rows}
    assert {n: o for n, o in outcomes.items() if len(o) != 1} == {}, "one outcome per step"
    successes = {n for n, o in outcomes.items() if o == ["success"]}
    assert set(outcomes) <= SHORT_NODES
    if status == "success":
        assert successes == SHORT_NODES
    stored = warehouse_rows(project)
    assert set(stored) == successes, "the warehouse holds exactly the recorded successes"
    (backfill,) = cli_json(["backfill", "list"], project)["backfills"]
    assert (backfill["status"], backfill["run_ids"]) == (status, [run_id]), backfill
    assert backfill["done"] == len(successes), backfill


# -- 4. kill -9 of a backfill: crashed at once, listed crashed, resumed exactly ---------------

KILL_AFTER = 30  # ok steps before the kill


def test_kill9_backfill_is_crashed_at_once_and_resumes_exactly_the_rest(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    running = Running(BACKFILL, project)
    run_id = running.wait_started()
    running.wait_ok(KILL_AFTER)
    running.proc.send_signal(signal.SIGKILL)
    assert running.finish() == -signal.SIGKILL
    killed_at = time.monotonic()

    # Every other command sees it crashed at once: the dead pid decides, not a stale heartbeat.
    run = run_of(cli_json(["runs"], project), run_id)
    crashed = cli_json(["runs", "--status", "crashed"], project)
    shown = cli_json(["run", "show", run_id], project)
    (listed,) = cli_json(["backfill", "list"], project)["backfills"]
    backfill_id = listed["backfill_id"]
    assert time.monotonic() - killed_at < 25  # well within the 30 s of a stale heartbeat
    assert run["status"] == "crashed" and run["ended_at"] is not None
    assert run["kind"] == "backfill" and run["backfill_id"] == backfill_id
    assert [r["run_id"] for r in crashed["runs"]] == [run_id]
    assert shown["status"] == "crashed" and shown["ended_at"] is not None
    successes = {node(a) for a in shown["attempts"] if a["status"] == "success"}
    assert successes and run["counts"] == {"success": len(successes)}
    assert assert_successes_committed(project, run_id) == successes
    assert (listed["status"], listed["run_ids"]) == ("crashed", [run_id]), listed

    # Resumed: exactly the rest, and the backfill is whole.
    resumed = cli_json(["backfill", "resume", backfill_id], project)
    assert resumed["status"] == "success" and resumed["backfill_id"] == backfill_id
    steps = [node(s) for s in resumed["steps"]]
    assert sorted(steps) == sorted(ALL - successes)
    assert_complete(project)
    after = cli_json(["backfill", "show", backfill_id], project)
    assert after["status"] == "success"
    assert after["run_ids"] == [run_id, resumed["run_id"]]
    assert after["done"] == after["total"] == len(ALL)


def test_kill9_backfill_counts_what_its_run_recorded(tmp_path: Path) -> None:
    """kill -9 right after the run's first batch of successes is written (exact point)."""
    project = make_project(tmp_path / "project")
    write = "assetflow.store.recorder:_Batch.write"  # counts batches of steps, not the end
    # The whole range: a short one can end within one flush, leaving no batch of steps alone.
    completed = run_injected(project, write, "after", 1, "SIGKILL", BACKFILL)
    assert completed.returncode == -signal.SIGKILL, completed.stderr
    successes = recorded_successes(project)
    assert successes
    (listed,) = cli_json(["backfill", "list"], project)["backfills"]
    assert listed["status"] == "crashed" and len(listed["run_ids"]) == 1
    assert listed["done"] == len(successes), listed
