"""Sources (SPEC 2c): observed, never materialized; ``source_changed`` and ``waiting``.

Real files, a real state file and a real warehouse; the clock is the real one (January 2024 is
long due), files are edited between calls the way a cron job or a person would.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_HEADER, ProjectFactory, run_cli

from assetflow.application.project import Project
from assetflow.records import PartitionStatus, ReasonKind

DAYS = 'partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }'

TOML = (
    PROJECT_HEADER
    + f"""
[sources.landing]
path = "landing/{{partition}}.csv"
{DAYS}

[sources.export]
path = "export.csv"
version = "content"

[assets.daily]
sql = "select id, amount from landing"
{DAYS}
"""
)

PIPELINE = """
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")

@asset(partitions=DAYS)
def totals(daily):
    return daily.aggregate("count(*) as n, sum(amount) as amount")

@asset
def people(context, export):
    context.log.info("reading %s", export)
    return context.warehouse.sql("select * from read_csv_auto($p)", params={"p": str(export)})
"""


def land(root: Path, day: str, rows: str = "1,10\n2,20\n") -> Path:
    path = root / "landing" / f"{day}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("id,amount\n" + rows)
    return path


def statuses(project: Project, selection: str) -> dict[tuple[str, str], tuple[str, list[str]]]:
    return {
        r.node: (r.status.value, [reason.kind.value for reason in r.reasons])
        for r in project.status(selection)
    }


@pytest.fixture
def root(make_project: ProjectFactory, clean_imports: None) -> Path:
    root = make_project(TOML, pipeline=PIPELINE)
    (root / "export.csv").write_text("name\nada\n")
    land(root, "2024-01-01")
    land(root, "2024-01-02", "3,30\n")
    return root


def test_a_partition_waits_for_its_file_and_runs_once_it_lands(root: Path) -> None:
    project = Project.load(root)
    found = statuses(project, "daily totals")
    assert found[("daily", "2024-01-01")] == ("missing", ["missing"])
    assert found[("daily", "2024-01-03")] == ("waiting", ["source_missing", "missing"])
    # Transitively: totals[2024-01-03] reads daily[2024-01-03], which waits.
    assert found[("totals", "2024-01-03")][0] == "waiting"
    assert found[("totals", "2024-01-01")] == ("missing", ["missing"])

    plan = project.plan("daily totals")
    assert [s.name for s in plan.steps] == [
        "daily[2024-01-01]",
        "totals[2024-01-01]",
        "daily[2024-01-02]",
        "totals[2024-01-02]",
    ]
    assert {s.name for s in plan.waiting} == {
        f"{a}[2024-01-0{d}]" for a in ("daily", "totals") for d in (3, 4)
    }
    assert plan.to_json()["waiting"][0]["reasons"][0]["kind"] == "source_missing"

    result = project.materialize("daily totals")
    assert result.status.value == "success" and len(result.steps) == 4
    assert len(result.waiting) == 4 and result.to_json()["waiting"] == list(result.waiting)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select _partition, amount from daily order by 1, 2").fetchall()
    assert rows == [("2024-01-01", 10), ("2024-01-01", 20), ("2024-01-02", 30)]

    # Nothing left but waiting partitions: nothing to do, no run, still success.
    again = project.materialize("daily totals")
    assert again.run_id is None and len(again.waiting) == 4

    land(root, "2024-01-03")
    found = statuses(project, "daily totals")
    assert found[("daily", "2024-01-03")] == ("missing", ["missing"])
    assert [s.name for s in project.materialize("daily totals").steps] == [
        "daily[2024-01-03]",
        "totals[2024-01-03]",
    ]


def test_a_changed_file_makes_exactly_its_readers_stale(root: Path) -> None:
    project = Project.load(root)
    project.materialize("daily totals people")
    assert statuses(project, "people")[("people", "-")] == ("fresh", [])

    path = land(root, "2024-01-02", "3,30\n4,40\n")
    os.utime(path, ns=(1, 1))  # another size and another mtime
    found = statuses(project, "daily totals")
    assert found[("daily", "2024-01-02")] == ("stale", ["source_changed"])
    assert found[("totals", "2024-01-02")] == ("stale", ["upstream_stale"])
    assert found[("daily", "2024-01-01")] == ("fresh", [])
    why = project.why("daily", "2024-01-02")
    assert "source landing[2024-01-02] changed" in why[0].reasons[0].detail

    steps = project.materialize("daily totals").steps
    assert [s.name for s in steps] == ["daily[2024-01-02]", "totals[2024-01-02]"]
    assert statuses(project, "daily")[("daily", "2024-01-02")][0] == "fresh"


def test_content_versions_ignore_a_touch_and_mtime_versions_do_not(root: Path) -> None:
    project = Project.load(root)
    project.materialize("people daily", partition=None)
    os.utime(root / "export.csv", ns=(5, 5))  # same bytes, another mtime
    os.utime(root / "landing" / "2024-01-01.csv", ns=(5, 5))
    assert statuses(project, "people")[("people", "-")] == ("fresh", [])
    assert statuses(project, "daily")[("daily", "2024-01-01")] == ("stale", ["source_changed"])
    (root / "export.csv").write_text("name\nbob\n")
    assert statuses(project, "people")[("people", "-")] == ("stale", ["source_changed"])


def test_a_python_asset_gets_the_path_and_a_sql_asset_the_rows(root: Path) -> None:
    project = Project.load(root)
    result = project.materialize("people")
    assert result.status.value == "success"
    logs = project.logs("people")
    assert any(str(root / "export.csv") in line.record.message for line in logs)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select name from people").fetchall() == [("ada",)]


def test_a_vanished_file_leaves_what_was_made_from_it_fresh(root: Path) -> None:
    # Landing folders get cleaned up: data made from a file that is gone is still good.
    project = Project.load(root)
    project.materialize("daily", partition="2024-01-01")
    (root / "landing" / "2024-01-01.csv").unlink()
    found = statuses(project, "landing daily")
    assert found[("daily", "2024-01-01")] == ("fresh", [])
    assert found[("landing", "2024-01-01")] == ("missing", ["source_missing"])
    # It comes back unchanged (same size and mtime): still nothing to do.
    assert project.materialize("daily", partition="2024-01-01").run_id is None
    # But a stale reader of a vanished file cannot be remade: it waits.
    land(root, "2024-01-02", "9,90\n")
    project.materialize("daily", partition="2024-01-02")
    (root / "landing" / "2024-01-02.csv").unlink()
    project_changed = root / "assets.toml"
    project_changed.write_text(
        project_changed.read_text().replace("select id, amount", "select id, amount + 0")
    )
    found = statuses(Project.load(root), "daily")
    assert found[("daily", "2024-01-02")] == ("waiting", ["source_missing", "code_changed"])


def test_sources_are_never_planned_or_run(root: Path) -> None:
    project = Project.load(root)
    plan = project.plan("*", force=True)
    assert not any(project.graph[s.asset].is_source for s in plan.steps)
    result = project.materialize("landing export")
    assert result.run_id is None and not result.steps
    counts = {r["asset"]: r["counts"] for r in project.status_counts("landing export")}
    assert counts["landing"]["fresh"] == 2 and counts["landing"]["missing"] == 2
    assert counts["export"]["fresh"] == 1


def test_observations_are_append_only_changes_and_rebuild_the_same_status(root: Path) -> None:
    project = Project.load(root)
    first = project.observe()
    assert {(o.source, o.partition, o.present) for o in first.changed} == {
        ("landing", "2024-01-01", True),
        ("landing", "2024-01-02", True),
        ("landing", "2024-01-03", False),
        ("landing", "2024-01-04", False),
        ("export", "-", True),
    }
    assert project.observe().changed == ()  # nothing new: nothing recorded
    land(root, "2024-01-04")
    assert [(o.source, o.partition) for o in project.observe().changed] == [
        ("landing", "2024-01-04")
    ]
    project.materialize("daily totals")
    store = project.store
    assert store.snapshot() == store.snapshot_from_history()
    store.rebuild_status()
    assert statuses(project, "daily")[("daily", "2024-01-03")][0] == "waiting"
    with duckdb.connect(str(store.path), read_only=True) as con:
        assert con.sql("select count(*) from observations").fetchall() == [(6,)]


def test_lineage_walks_through_the_source_partition(root: Path) -> None:
    project = Project.load(root)
    project.materialize("+totals", partition="2024-01-01")
    graph = project.lineage("totals", "2024-01-01", direction="upstream")
    assert {(n["asset"], n["partition"]) for n in graph["nodes"]} == {
        ("totals", "2024-01-01"),
        ("daily", "2024-01-01"),
        ("landing", "2024-01-01"),
    }
    assert len(graph["edges"]) == 2


PYTHON_SOURCE = """
from pathlib import Path

from assetflow import DailyPartitions, asset, source

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")
FEED = Path(__file__).with_name("feed")

@source(partitions=DAYS)
def api(context):
    '''The partner API's daily report: its revision, once published.'''
    found = FEED / context.partition_key
    if found.name == "2024-01-03" and (FEED / "broken").exists():
        raise ConnectionError("partner API down")
    return found.read_text() if found.exists() else None

@asset(partitions=DAYS)
def report(context, api):
    assert api is None  # a Python source hands over no path
    return context.warehouse.sql(f"select '{context.partition_key}' as day")
"""


def test_a_python_source_returns_versions_and_none_while_not_there(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=PYTHON_SOURCE)
    (root / "feed").mkdir()
    (root / "feed" / "2024-01-01").write_text("rev1")
    project = Project.load(root)
    assert project.asset("api").kind == "source"
    assert project.asset("api").description.startswith("The partner API")
    assert [s.name for s in project.materialize("report").steps] == ["report[2024-01-01]"]
    (root / "feed" / "2024-01-01").write_text("rev2")
    (root / "feed" / "2024-01-03").write_text("rev1")
    found = statuses(project, "report")
    assert found[("report", "2024-01-01")] == ("stale", ["source_changed"])
    assert found[("report", "2024-01-02")][0] == "waiting"
    assert found[("report", "2024-01-03")] == ("missing", ["missing"])

    # A source that cannot be observed keeps its last observation: no one is left waiting
    # or made stale by a flaky API, and `observe` says so.
    project.materialize("report")
    (root / "feed" / "broken").write_text("")
    observed = project.observe("api")
    assert [(o.partition, o.error) for o in observed.errors] == [
        ("2024-01-03", "ConnectionError: partner API down")
    ]
    assert statuses(project, "report")[("report", "2024-01-03")] == ("fresh", [])


def test_cli_observe_status_plan_graph_and_list(root: Path) -> None:
    code, out, err = run_cli(["observe"], root)
    assert code == 0, err
    assert "changed  landing[2024-01-03]  not there" in out
    assert "observed 5 source partition(s): 3 there, 2 not yet; 5 changed" in out
    code, out, _ = run_cli(["observe", "--json"], root)
    assert code == 0 and '"changed": false' in out

    code, out, _ = run_cli(["status", "daily"], root)
    assert code == 0 and "WAITING" in out
    code, out, _ = run_cli(["plan", "daily"], root)
    assert "2 partition(s) waiting for source data (not run) in 1 asset(s)" in out
    code, out, err = run_cli(["materialize", "daily"], root)
    assert code == 0, err
    assert "2 partition(s) waiting for source data, not run: daily[2024-01-03]" in out
    code, out, _ = run_cli(["graph", "--format", "mermaid"], root)
    assert 'landing[("landing<br/>' in out
    code, out, _ = run_cli(["list", "--json"], root)
    kinds = {line.strip() for line in out.splitlines() if '"kind"' in line}
    assert '"kind": "source",' in kinds


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[sources.feed]\npath = "in/{day}.csv"\n' + DAYS,
            "source 'feed': path 'in/{day}.csv' has a placeholder it cannot fill",
        ),
        (
            '[sources.feed]\npath = "in/all.csv"\n' + DAYS,
            "is the same file for every partition",
        ),
        ('[sources.feed]\npath = "a.csv"\nversion = "sha1"\n', "sources.feed.version"),
        (
            '[sources.feed]\npath = "a.csv"\n\n[assets.feed]\nretries = { max_retries = 1 }\n',
            "[assets.feed] overrides a source",
        ),
    ],
)
def test_bad_source_declarations_are_refused_naming_the_source(
    make_project: ProjectFactory, toml: str, message: str
) -> None:
    root = make_project(PROJECT_HEADER + toml, pipeline="")
    code, out, err = run_cli(["status"], root)
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err


def test_reasons_and_statuses_are_in_the_enums() -> None:
    assert PartitionStatus("waiting") is PartitionStatus.WAITING
    assert ReasonKind("source_changed") and ReasonKind("source_missing")


def test_the_assets_screen_observes_before_its_one_read(root: Path) -> None:
    # The screen reads through one read-only connection, next to which nothing can be
    # written: it observes first, so a changed file shows at once, and never fails the screen.
    from assetflow.views.assets import load_assets

    project = Project.load(root)
    project.materialize("people")
    (root / "export.csv").write_text("name\nbob\n")
    rows = {row.name: row for row in load_assets(project).rows}
    assert rows["people"].counts["stale"] == 1
    assert rows["export"].counts["fresh"] == 1
    assert project.observe().changed == ()  # the screen recorded it


GLOB_AND_MULTI = (
    PROJECT_HEADER
    + """
[sources.drops]
path = "in/{partition}/*.csv"
partitions = { daily = { start = "2024-01-01", end = "2024-01-03" } }

[sources.regional]
path = "reg/{date}/{region}.parquet"
partitions = { multi = { date = { daily = { start = "2024-01-01", end = "2024-01-02" } }, \
region = { static = ["eu", "us"] } } }

[assets.monthly]
sql = "select count(*) as n, sum(v) as v from drops"
partitions = { monthly = { start = "2024-01", end = "2024-02" } }

[assets.by_region]
sql = "select v from regional"
partitions = { multi = { date = { daily = { start = "2024-01-01", end = "2024-01-02" } }, \
region = { static = ["eu", "us"] } } }
"""
)


def test_globs_multi_partition_paths_and_several_files_per_step(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(GLOB_AND_MULTI, pipeline="")
    for day, name, value in [("01", "a", 1), ("01", "b", 2), ("02", "x", 3)]:
        folder = root / "in" / f"2024-01-{day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.csv").write_text(f"v\n{value}\n")
    (root / "reg" / "2024-01-01").mkdir(parents=True)
    duckdb.sql(f"copy (select 7 as v) to '{root / 'reg' / '2024-01-01' / 'eu.parquet'}'")
    project = Project.load(root)
    result = project.materialize("*")
    assert sorted(s.name for s in result.steps) == ["by_region[2024-01-01|eu]", "monthly[2024-01]"]
    assert result.waiting == ("by_region[2024-01-01|us]",)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select n, v from monthly").fetchall() == [(3, 6)]
        assert con.sql("select v from by_region").fetchall() == [(7,)]
    # A file added to a day's folder is a change of that day: the month reads it again.
    (root / "in" / "2024-01-02" / "y.csv").write_text("v\n4\n")
    assert statuses(project, "monthly")[("monthly", "2024-01")] == ("stale", ["source_changed"])


def test_hostile_sources_fail_their_observation_only(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(
        PROJECT_HEADER + '\n[sources.dirs]\npath = "in/*"\n',
        pipeline="""
        import sys
        from assetflow import source

        @source
        def quits():
            sys.exit(0)

        @source
        def weird():
            return b"\\x00\\xff"
        """,
    )
    (root / "in" / "folder").mkdir(parents=True)  # a folder matching the glob is no file
    observed = {o.source: o for o in Project.load(root).observe().observations}
    assert observed["quits"].error == "SystemExit: 0" and not observed["quits"].present
    assert observed["weird"].data_version == "00ff"
    assert not observed["dirs"].present
