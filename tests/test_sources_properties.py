"""Property test of sources: random landings, edits, deletions and runs on real files.

A small project with every kind of edge a source takes part in (a daily file source read day by
day, a monthly asset reading every day of its month, a Python source read by an unpartitioned
asset that also reads the daily chain), driven by hypothesis through scripts of events: a file
lands, changes, is touched, is deleted; the Python source publishes a version or withdraws it;
`materialize` of some selection. After every event:

- the screened statuses (`Project.status`, what the CLI shows) equal evaluating every partition
  from the store's snapshot without screening (the oracle);
- a partition is `waiting` exactly when it needs a run and a source partition it reads is not
  there, or an upstream partition it reads is waiting; a source partition is `fresh` exactly
  when its file is there;
- after `materialize *`, every partition is `fresh` or `waiting`, no plan step is a source or
  waiting, and the run succeeded;
- a materialized reader whose file changed is `stale` with `source_changed` (mtime versions).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from helpers import PROJECT_HEADER, write_project
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.application.project import Project
from assetflow.planner.status import StatusEvaluator, StatusResult
from assetflow.records import PartitionStatus, utcnow

Node = tuple[str, str]
DAYS = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
TOML = (
    PROJECT_HEADER
    + """
[sources.landing]
path = "landing/{partition}.csv"
partitions = { daily = { start = "2024-01-30", end = "2024-02-03" } }
"""
)
PIPELINE = """
from pathlib import Path

from assetflow import DailyPartitions, MonthlyPartitions, asset, source

DAYS = DailyPartitions(start="2024-01-30", end="2024-02-03")
MONTHS = MonthlyPartitions(start="2024-01", end="2024-03")
FEED = Path(__file__).with_name("feed.txt")

@source
def feed():
    return FEED.read_text() if FEED.exists() else None

@asset(partitions=DAYS)
def loaded(context, landing):
    return context.warehouse.sql("select * from read_csv_auto($p)", params={"p": str(landing)})

@asset(partitions=MONTHS)
def monthly(loaded):
    return loaded.aggregate("count(*) as n")

@asset
def summary(context, feed, loaded):
    return loaded.aggregate("count(*) as n")
"""

events = st.one_of(
    st.tuples(st.just("land"), st.sampled_from(DAYS), st.integers(1, 3)),
    st.tuples(st.just("touch"), st.sampled_from(DAYS), st.just(0)),
    st.tuples(st.just("delete"), st.sampled_from(DAYS), st.just(0)),
    st.tuples(st.just("feed"), st.sampled_from(["v1", "v2", ""]), st.just(0)),
    st.tuples(st.just("run"), st.sampled_from(["*", "loaded", "monthly", "summary"]), st.just(0)),
)


def apply(root: Path, project: Project, event: tuple[str, str, int], clock: list[int]) -> None:
    kind, what, rows = event
    path = root / "landing" / f"{what}.csv"
    clock[0] += 1_000_000_000  # one second per event: mtimes always move forward
    if kind == "land":
        path.parent.mkdir(exist_ok=True)
        path.write_text("id\n" + "".join(f"{i}\n" for i in range(rows)))
        os.utime(path, ns=(clock[0], clock[0]))
    elif kind == "touch" and path.exists():
        os.utime(path, ns=(clock[0], clock[0]))
    elif kind == "delete" and path.exists():
        path.unlink()
    elif kind == "feed":
        feed = root / "feed.txt"
        if what:
            feed.write_text(what)
        elif feed.exists():
            feed.unlink()
    elif kind == "run":
        result = project.materialize(what)
        assert result.status.value == "success", result
        assert not {s.asset for s in result.steps} & {"landing", "feed"}


def check(root: Path, project: Project) -> dict[tuple[str, str], PartitionStatus]:
    now = utcnow()
    shown = {r.node: r for r in project.status(now=now)}  # observes, then screens
    oracle = StatusEvaluator(project.graph, project.store.snapshot(), now)
    for node, result in shown.items():
        expected = oracle.status(*node)
        assert (result.status, result.reasons) == (expected.status, expected.reasons), node
    there = {day for day in DAYS if (root / "landing" / f"{day}.csv").exists()}
    feed = (root / "feed.txt").exists()
    for (asset, key), result in shown.items():
        if asset == "landing":
            assert (result.status is PartitionStatus.FRESH) == (key in there), (key, result)
        elif asset == "feed":
            assert (result.status is PartitionStatus.FRESH) == feed
        else:
            reads_absent = _reads_absent(asset, key, there, feed, shown)
            needs_run = result.status not in (PartitionStatus.FRESH, PartitionStatus.RUNNING)
            assert (result.status is PartitionStatus.WAITING) == (needs_run and reads_absent), (
                asset,
                key,
                result,
            )
    return {node: result.status for node, result in shown.items()}


def _reads_absent(
    asset: str, key: str, there: set[str], feed: bool, shown: Mapping[Node, StatusResult]
) -> bool:
    """Whether a source partition ``asset[key]`` reads is not there, or an upstream partition
    it reads waits for one (waiting spreads only through partitions that need a run: one made
    from a file since deleted is fresh, and what reads it can run)."""

    def waits(node: Node) -> bool:
        return shown[node].status is PartitionStatus.WAITING

    if asset == "loaded":
        return key not in there
    if asset == "monthly":
        return any(waits(("loaded", day)) for day in DAYS if day.startswith(key))
    return not feed or any(waits(("loaded", day)) for day in DAYS)  # summary


@settings(max_examples=8, deadline=None)
@given(script=st.lists(events, min_size=2, max_size=6))
def test_sources_statuses_match_the_oracle_and_the_files(
    script: list[tuple[str, str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder) / "p", TOML, {"pipeline.py": PIPELINE})
        project = Project.load(root)
        clock = [1_700_000_000_000_000_000]
        before: dict[tuple[str, str], PartitionStatus] = {}
        start = [("land", DAYS[0], 1), ("land", DAYS[1], 2), ("feed", "v1", 0), ("run", "*", 0)]
        for event in [*start, *script, ("run", "*", 0)]:
            apply(root, project, event, clock)
            after = check(root, project)
            if event[0] == "delete":
                # A file going away changes no reader that was fresh (data made from it is
                # still good); one that needed a run may now wait for it.
                for node, status in before.items():
                    if node[0] != "landing" and status is PartitionStatus.FRESH:
                        assert after[node] is PartitionStatus.FRESH, (event, node)
            before = after
        statuses = {r.status for r in project.status()}
        assert statuses <= {PartitionStatus.FRESH, PartitionStatus.WAITING, PartitionStatus.MISSING}
        # Sources may be missing (not there); nothing else is.
        for result in project.status("loaded monthly summary"):
            assert result.status in (PartitionStatus.FRESH, PartitionStatus.WAITING), result
