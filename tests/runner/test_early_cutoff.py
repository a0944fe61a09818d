"""Early cutoff inside a run (issue 14, part 1): a step planned only because of upstream changes
is skipped (``unchanged inputs``) when every input it reads came out of the run with the data
version its last success read, and its partition is fresh.

- The pure parts (``assetflow.planner.cutoff``, ``Plan.read``) on plain data.
- Real projects in ``tmp_path`` through ``Project`` (default duckdb IO, real state file): a
  refactor upstream runs only the refactored steps; changed data runs exactly what reads it; a
  step with its own code change runs; ``--force`` runs everything; inputs back at the version
  read (the sticky ``inputs_changed`` flag set meanwhile) are cut off and ``status`` says fresh.
- A run waiting for a partition another live run holds does not cut it off, and a cut-off step
  lets go of its claim at once (a real second process, gated).
- The example project through the CLI: the issue's swap of ``orders_cleaned``'s conditions runs
  exactly the ``orders_cleaned`` steps. CI shortens the example (``AF_EXAMPLE_MONTHS``, default
  2); 12 is the issue's whole year (366 run, 379 skipped), measured by hand.

Asset bodies append their name to ``calls.txt``, so what ran is known independently of
assetflow's records. Code changes are real edits of ``pipeline.py``, reloaded.
"""

from __future__ import annotations

import calendar
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, REPO_ROOT, ProjectFactory, cli_env, run_cli
from planner_sim import History
from rich.console import Console

from assetflow import DailyPartitions, Project
from assetflow.application import operations
from assetflow.cli.progress import LineProgress, LiveProgress, summary_counts
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.cutoff import (
    UNCHANGED_INPUTS,
    cutoff_reads,
    may_cut_off,
    unchanged,
)
from assetflow.planner.status import Reason
from assetflow.records import (
    InputVersion,
    LastSuccess,
    PartitionState,
    ReasonKind,
    RunStatus,
    StepStatus,
)
from assetflow.runner.results import RunResult, StepResult
from assetflow.store import StateStore

AT = datetime(2024, 1, 10, tzinfo=UTC)


def reason(kind: ReasonKind) -> Reason:
    return Reason(kind, kind.value)


# -- the pure parts ------------------------------------------------------------------------------


def test_unchanged_compares_the_partitions_read_and_their_versions() -> None:
    read = {("a", "1"): "v1", ("b", "-"): None}
    assert unchanged(read, {("b", "-"): None, ("a", "1"): "v1"})
    assert unchanged({}, {})
    assert not unchanged(read, {("a", "1"): "v2", ("b", "-"): None})  # another version
    assert not unchanged(read, {("a", "1"): "v1", ("b", "-"): "v0"})  # made since
    assert not unchanged(read, {("a", "1"): "v1"})  # one input fewer
    assert not unchanged(read, {**read, ("c", "-"): "v1"})  # one input more
    assert not unchanged(read, {("a", "1"): "v1", ("c", "-"): None})  # another input


def test_only_upstream_reasons_may_be_cut_off() -> None:
    for kinds in (
        [ReasonKind.UPSTREAM_CHANGED],
        [ReasonKind.UPSTREAM_STALE],
        [ReasonKind.SOURCE_CHANGED],
        [ReasonKind.UPSTREAM_STALE, ReasonKind.UPSTREAM_CHANGED, ReasonKind.SOURCE_CHANGED],
    ):
        assert may_cut_off(reason(kind) for kind in kinds), kinds
    assert not may_cut_off([])
    for other in ReasonKind:
        if other not in (
            ReasonKind.UPSTREAM_CHANGED,
            ReasonKind.UPSTREAM_STALE,
            ReasonKind.SOURCE_CHANGED,
        ):
            assert not may_cut_off([reason(ReasonKind.UPSTREAM_STALE), reason(other)]), other


def test_cutoff_reads_are_what_the_last_success_read() -> None:
    inputs = (InputVersion("a", "1", "v1", 7), InputVersion("b", "-", None, None))
    success = LastSuccess(8, "c1", "d1", AT, inputs)
    snapshot = {
        ("x", "1"): PartitionState(last_success=success),
        ("failed_since", "1"): PartitionState(last_success=success, latest_failed=True),
        ("never", "1"): PartitionState(latest_failed=True),
        ("code", "1"): PartitionState(last_success=success),
    }
    stale = (reason(ReasonKind.UPSTREAM_STALE),)
    chosen = {
        ("x", "1"): stale,
        ("failed_since", "1"): (reason(ReasonKind.FAILED),),
        ("never", "1"): (reason(ReasonKind.MISSING),),
        ("code", "1"): (reason(ReasonKind.CODE_CHANGED), *stale),
        ("absent", "1"): stale,
    }
    assert cutoff_reads(chosen, snapshot) == {("x", "1"): {("a", "1"): "v1", ("b", "-"): None}}


def test_the_plan_carries_what_its_cut_off_candidates_read() -> None:
    days = DailyPartitions(start="2024-01-01", end="2024-01-03")
    graph = AssetGraph(
        [
            AssetDef("up", partitions=days, code_version="c1"),
            AssetDef("down", partitions=days, deps=(AssetDep("up"),), code_version="c1"),
            AssetDef("top", deps=(AssetDep("down"),), code_version="c1"),
        ]
    )
    history = History(graph, AT)
    history.make_fresh(history.nodes())
    history.change_code("up")
    targets = history.nodes(["top"])
    plan = history.plan(targets)
    assert [step.node for step in plan.steps] == [
        ("up", "2024-01-01"),
        ("down", "2024-01-01"),
        ("up", "2024-01-02"),
        ("down", "2024-01-02"),
        ("top", "-"),
    ]
    read = dict(plan.read or {})
    assert set(read) == {("down", "2024-01-01"), ("down", "2024-01-02"), ("top", "-")}
    assert read[("down", "2024-01-02")] == {
        ("up", "2024-01-02"): history.data_version("up", "2024-01-02")
    }
    assert read[("top", "-")] == {
        ("down", key): history.data_version("down", key) for key in ("2024-01-01", "2024-01-02")
    }
    assert history.plan(targets, force=True).read == {}  # --force runs everything


def test_the_summary_counts_cut_off_steps_as_unchanged_inputs() -> None:
    def result(*reasons: str | None) -> RunResult:
        steps = [
            StepResult("a", str(i), StepStatus.SKIPPED if why else StepStatus.SUCCESS, reason=why)
            for i, why in enumerate(reasons)
        ]
        counts = Counter(step.status.value for step in steps)
        return RunResult("r1", RunStatus.SUCCESS, tuple(steps), counts=dict(counts))

    cut = result(None, UNCHANGED_INPUTS, UNCHANGED_INPUTS)
    assert summary_counts(cut) == "2 skipped (unchanged inputs), 1 success"
    mixed = result(UNCHANGED_INPUTS, "materialized by run r0", None)
    assert summary_counts(mixed) == "2 skipped (1 unchanged inputs), 1 success"
    assert summary_counts(result(None)) == "1 success"
    out = io.StringIO()
    progress = LineProgress(out)
    progress.total = 3
    progress.step_finished(cut.steps[1])
    progress.run_finished(cut)
    assert out.getvalue().splitlines() == [
        "skipped a[1]  unchanged inputs  [1/3]",
        "run r1 success: 2 skipped (unchanged inputs), 1 success",
    ]
    # On a terminal: counted apart from the skips that are not a normal outcome.
    live = LiveProgress(console=Console(file=io.StringIO(), width=200))
    for step in mixed.steps:
        live.step_finished(step)
    assert (live.done, live.unchanged, live.skipped) == (1, 1, 1)
    assert "done [green]1[/]  unchanged [green]1[/]  failed [red]0[/]  skipped" in live._line()


# -- real projects -------------------------------------------------------------------------------

PIPELINE = """\
import pathlib

from assetflow import DailyPartitions, asset

HERE = pathlib.Path(__file__).resolve().parent
DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")


def bump(context):
    name = context.asset_name
    if context.partition_key != "-":
        name += f"[{context.partition_key}]"
    with (HERE / "calls.txt").open("a") as f:
        f.write(name + "\\n")


def knob(name):
    path = HERE / f"{name}.knob"
    return int(path.read_text()) if path.exists() else 0


@asset(partitions=DAYS, code_version="raw-1")
def raw(context):
    bump(context)
    day = context.partition_key
    return context.warehouse.sql(
        "select $day::date as day, i + $k as v from range(3) t(i)",
        params={"day": day, "k": knob(day)},
    )


@asset(partitions=DAYS)
def cleaned(context, raw):
    bump(context)
    return raw.filter("v >= 0 and v < 1000")


@asset(partitions=DAYS, code_version="daily-1")
def daily(context, cleaned):
    bump(context)
    return cleaned.aggregate("min(day) as day, sum(v) as total")


@asset
def summary(context, daily):
    bump(context)
    return daily.aggregate("sum(total) as total, count(*) as days")
"""
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
SWAP = ('raw.filter("v >= 0 and v < 1000")', 'raw.filter("v < 1000 and v >= 0")')


@pytest.fixture
def shop(
    make_project: ProjectFactory, clean_imports: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    # Edits of pipeline.py are reloaded: no bytecode cached from the previous version.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = make_project(PROJECT_HEADER, pipeline=PIPELINE)
    result = load(folder).materialize()
    assert result.counts == {"success": 10}
    return folder


def load(folder: Path) -> Project:
    sys.modules.pop("pipeline", None)
    return Project.load(folder)


def edit(folder: Path, old: str, new: str) -> Project:
    path = folder / "pipeline.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return load(folder)


def calls(folder: Path) -> list[str]:
    """What ran since the last call (and forget it)."""
    path = folder / "calls.txt"
    ran = path.read_text().split() if path.exists() else []
    path.unlink(missing_ok=True)
    return sorted(ran)


def outcomes(result: RunResult) -> dict[str, tuple[str, str | None]]:
    return {step.name: (step.status.value, step.reason) for step in result.steps}


def not_fresh(project: Project) -> list[str]:
    return [f"{r.asset}[{r.partition}]" for r in project.status() if r.status.value != "fresh"]


def test_a_refactor_upstream_runs_only_the_refactored_steps(shop: Path) -> None:
    calls(shop)
    project = edit(shop, *SWAP)
    plan = project.plan("summary")
    assert len(plan) == 7  # 3 cleaned (code_changed), 3 daily and summary (upstream_stale)
    result = project.materialize("summary")
    assert result.status is RunStatus.SUCCESS
    assert calls(shop) == [f"cleaned[{day}]" for day in DAYS]
    cut = ("skipped", UNCHANGED_INPUTS)
    assert outcomes(result) == {
        **{f"cleaned[{day}]": ("success", None) for day in DAYS},
        **{f"daily[{day}]": cut for day in DAYS},
        "summary": cut,
    }
    assert result.counts == {"success": 3, "skipped": 4}
    assert not_fresh(project) == []
    assert project.plan("summary").is_empty
    # Recorded as skipped steps of the run (attempt 0, the reason), changing no status.
    _, records = project.run(result.run_id or "")
    skipped = sorted((r.asset, r.partition, r.attempt, r.reason) for r in records if r.attempt == 0)
    assert skipped == [
        *(("daily", day, 0, UNCHANGED_INPUTS) for day in DAYS),
        ("summary", "-", 0, UNCHANGED_INPUTS),
    ]


def test_changed_data_runs_exactly_what_reads_it(shop: Path) -> None:
    calls(shop)
    (shop / "2024-01-02.knob").write_text("5")
    project = edit(shop, '"raw-1"', '"raw-2"')
    result = project.materialize("summary")
    assert result.status is RunStatus.SUCCESS
    assert calls(shop) == [
        "cleaned[2024-01-02]",
        "daily[2024-01-02]",
        *(f"raw[{day}]" for day in DAYS),
        "summary",
    ]
    assert outcomes(result)["cleaned[2024-01-01]"] == ("skipped", UNCHANGED_INPUTS)
    assert outcomes(result)["daily[2024-01-03]"] == ("skipped", UNCHANGED_INPUTS)
    assert not_fresh(project) == []


def test_a_step_with_its_own_code_change_runs(shop: Path) -> None:
    calls(shop)
    edit(shop, *SWAP)
    project = edit(shop, '"daily-1"', '"daily-2"')
    result = project.materialize("summary")
    # daily reads what it read, but its code changed; it makes the same data: summary is cut.
    assert calls(shop) == [f"{asset}[{day}]" for asset in ("cleaned", "daily") for day in DAYS]
    assert outcomes(result)["summary"] == ("skipped", UNCHANGED_INPUTS)
    assert not_fresh(project) == []


def test_force_runs_every_step_and_only_force(shop: Path) -> None:
    calls(shop)
    project = edit(shop, *SWAP)
    assert project.plan("summary", force=True).read == {}
    result = project.materialize("summary", force=True)
    assert result.counts == {"success": 7}
    assert len(calls(shop)) == 7
    assert not_fresh(project) == []
    project = edit(shop, *reversed(SWAP))  # and back, without --force: cut off again
    assert project.materialize("summary").counts == {"success": 3, "skipped": 4}
    assert calls(shop) == [f"cleaned[{day}]" for day in DAYS]


def test_inputs_back_at_the_version_read_are_cut_off_and_fresh(shop: Path) -> None:
    """raw[2024-01-01] changes and cleaned[2024-01-01] is left stale (upstream_changed, and
    flagged ``inputs_changed`` in the status cache); raw's change is then undone with a new
    code version: every reader is cut off, and status (in process and the CLI) says fresh."""
    (shop / "2024-01-01.knob").write_text("5")
    project = edit(shop, '"raw-1"', '"raw-2"')
    assert project.materialize("raw", partition="2024-01-01").counts == {"success": 1}
    stale = project.status("cleaned", partition="2024-01-01")[0]
    assert [r.kind for r in stale.reasons] == [ReasonKind.UPSTREAM_CHANGED]
    calls(shop)
    (shop / "2024-01-01.knob").write_text("0")
    project = edit(shop, '"raw-2"', '"raw-3"')
    result = project.materialize("summary")
    assert calls(shop) == [f"raw[{day}]" for day in DAYS]
    assert outcomes(result)["cleaned[2024-01-01]"] == ("skipped", UNCHANGED_INPUTS)
    assert result.counts == {"success": 3, "skipped": 7}
    assert not_fresh(project) == []
    code, out, err = run_cli(["status", "--json"], shop)
    assert code == 0, err
    counts = {record["asset"]: record["counts"] for record in json.loads(out)["assets"]}
    assert all(c["fresh"] == sum(c.values()) for c in counts.values()), counts
    code, out, err = run_cli(["plan", "summary"], shop)
    assert (code, out.strip()) == (0, "nothing to do: every selected partition is fresh"), err


# -- another live run ----------------------------------------------------------------------------

GATED = """\
import os
import pathlib
import time

import pyarrow as pa

from assetflow import asset

HERE = pathlib.Path(__file__).resolve().parent
GATE = os.environ.get("AF_GATE", "")


def bump(context):
    with (HERE / "calls.txt").open("a") as f:
        f.write(f"{context.asset_name} {context.run_id}\\n")
    if context.asset_name == GATE:
        (HERE / "gate").write_text(context.run_id)
        deadline = time.monotonic() + 120
        while not (HERE / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


@asset(io="parquet")
def up(context):
    bump(context)
    return pa.table({"v": [1, 2, 3]})


@asset(io="parquet")
def top(context, up):
    bump(context)
    return up.aggregate("sum(v) as total")


@asset(io="parquet")
def side(context, up):
    bump(context)
    return up.aggregate("max(v) as most")
"""


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed (each by its own pid) if still running at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_step_another_run_holds_is_waited_for_and_a_cut_off_step_lets_go_at_once(
    make_project: ProjectFactory,
    clean_imports: None,
    background: list[subprocess.Popen[bytes]],
) -> None:
    """B plans up (code changed), top and side (upstream_stale); A, another process, makes
    the same up and is inside top (``--force``) when B starts. B skips up (made by A), cuts
    side off and lets go of it at once, waits for top and reports it made by A: never
    "unchanged inputs" for a partition another run is making, whose version that run decides."""
    folder = make_project(PROJECT_HEADER, pipeline=GATED)
    first = Project.load(folder).materialize()
    assert first.counts == {"success": 3}
    sys.modules.pop("pipeline", None)
    path = folder / "pipeline.py"
    path.write_text(path.read_text().replace("[1, 2, 3]", "[1, 2, 3][:]"))
    api = Project.load(folder)
    plan = api.plan(["top", "side"])
    assert {s.asset: [r.kind for r in s.reasons] for s in plan.steps} == {
        "up": [ReasonKind.CODE_CHANGED],
        "top": [ReasonKind.UPSTREAM_STALE],
        "side": [ReasonKind.UPSTREAM_STALE],
    }
    with (folder / "a.err").open("wb") as err:
        holder = subprocess.Popen(
            # --force: A runs top (cut off otherwise, as up makes the same data).
            [sys.executable, "-m", "assetflow", "materialize", "top", "--force", "--json"],
            cwd=folder,
            env={**cli_env(), "AF_GATE": "top"},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    background.append(holder)
    wait_for(lambda: (folder / "gate").exists() or holder.poll() is not None, "A inside top")
    assert holder.poll() is None, (folder / "a.err").read_text()
    holder_id = (folder / "gate").read_text()
    store = StateStore(folder / ".assetflow" / "state.duckdb")
    wait_for(lambda: not store.lease_holders([("up", "-")]), "A to let go of up")

    results: list[RunResult] = []
    scope = operations.Scope(("top", "side"))
    runner = threading.Thread(
        target=lambda: results.append(operations.execute(api.workspace, plan, scope))
    )
    runner.start()
    try:

        def b_skipped_side() -> bool:
            runs = [r for r in api.runs() if r.run.run_id != holder_id]
            return bool(runs) and any(
                a.asset == "side" and a.reason == UNCHANGED_INPUTS
                for a in api.run(runs[0].run.run_id)[1]
            )

        wait_for(b_skipped_side, "B to cut side off")
        assert not store.lease_holders([("side", "-")])  # let go of while B goes on
        assert runner.is_alive()  # B still waits for top
        assert store.lease_holders([("top", "-")]) == {("top", "-"): holder_id}
    finally:
        (folder / "release").write_text("")
        runner.join(120)
    assert holder.wait(120) == 0, (folder / "a.err").read_text()
    (result,) = results
    made_by_a = ("skipped", f"materialized by run {holder_id}")
    assert outcomes(result) == {
        "up": made_by_a,
        "top": made_by_a,
        "side": ("skipped", UNCHANGED_INPUTS),
    }
    assert result.status is RunStatus.SUCCESS
    ran = (folder / "calls.txt").read_text().splitlines()
    since = [line for line in ran if not line.endswith(str(first.run_id))]
    assert since == [f"up {holder_id}", f"top {holder_id}"]  # side never ran again


# -- the example ---------------------------------------------------------------------------------

MONTHS = int(os.environ.get("AF_EXAMPLE_MONTHS", "2"))
EXAMPLE_SWAP = (
    "orders.filter(\"status <> 'cancelled' and amount > 0\")",
    "orders.filter(\"amount > 0 and status <> 'cancelled'\")",
)


def example_copy(root: Path, months: int) -> Path:
    """The example project, shortened to its first ``months`` months (12: the whole year)."""
    shutil.copy(REPO_ROOT / "assets.toml", root / "assets.toml")
    shutil.copytree(REPO_ROOT / "examples", root / "examples")
    if months < 12:
        end_day, end_month = f"2024-{months + 1:02d}-01", f"2024-{months + 1:02d}"
        for path in (root / "assets.toml", root / "examples" / "shop" / "assets.py"):
            text = path.read_text()
            text = text.replace('end="2025-01-01"', f'end="{end_day}"')
            text = text.replace('end = "2025-01-01"', f'end = "{end_day}"')
            text = text.replace('end="2025-01"', f'end="{end_month}"')
            path.write_text(text)
    return root


def test_the_swap_in_the_example_runs_only_orders_cleaned(tmp_path: Path) -> None:
    root = example_copy(tmp_path, MONTHS)
    code, _, err = run_cli(["materialize", "revenue_dashboard"], root, timeout=600)
    assert code == 0, err
    assets = root / "examples" / "shop" / "assets.py"
    text = assets.read_text()
    assert EXAMPLE_SWAP[0] in text
    assets.write_text(text.replace(*EXAMPLE_SWAP))

    started = time.monotonic()
    code, out, err = run_cli(["materialize", "revenue_dashboard", "--json"], root, timeout=600)
    seconds = time.monotonic() - started
    assert code == 0, err
    document = json.loads(out)
    days = sum(calendar.monthrange(2024, month)[1] for month in range(1, MONTHS + 1))
    steps = document["steps"]
    ran = Counter(s["asset"] for s in steps if s["status"] == "success")
    cut = Counter(s["asset"] for s in steps if s["reason"] == UNCHANGED_INPUTS)
    print(f"{MONTHS} month(s): {dict(ran)} run, {dict(cut)} skipped, {seconds:.1f}s")
    assert document["status"] == "success"
    assert ran == {"orders_cleaned": days}
    assert cut == {"daily_revenue": days, "monthly_revenue": MONTHS, "revenue_dashboard": 1}
    assert document["counts"] == {"success": days, "skipped": days + MONTHS + 1}
    # The progress on stderr: one line per cut-off step, and the summary says why.
    assert f"skipped daily_revenue[2024-01-01]  {UNCHANGED_INPUTS}  [" in err
    assert f"skipped ({UNCHANGED_INPUTS})" in err.splitlines()[-1]
    code, out, err = run_cli(["status", "+revenue_dashboard", "--json"], root)
    assert code == 0, err
    counts = {record["asset"]: record["counts"] for record in json.loads(out)["assets"]}
    assert all(c["fresh"] == sum(c.values()) for c in counts.values()), counts
