"""The runner, in-process through the Python API on real projects in ``tmp_path``: retries,
timeouts, pools, fail-fast, skips, context logging and metadata, ``Output`` data versions, the
``parquet`` and ``none`` IO managers and SQL assets declared in ``assets.toml``.

Asset functions that need to tell the test what happened write to files in the project folder
(attempt counters, start/end times), so nothing is mocked and every run is real.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import PROJECT_HEADER, ProjectFactory, run_cli

from assetflow import Project
from assetflow.runner.results import RunResult

COUNTER = """\
import json
import pathlib
import time

HERE = pathlib.Path(__file__).resolve().parent


def bump(name):
    \"\"\"Count the calls of ``name`` in a file; return this call's number (1-based).\"\"\"
    path = HERE / f"calls-{name}.txt"
    with path.open("a") as f:
        f.write("x")
    return len(path.read_text())


def record(name, key, started, ended):
    with (HERE / "intervals.jsonl").open("a") as f:
        f.write(json.dumps([name, key, started, ended]) + "\\n")
"""


def project_with(make_project: ProjectFactory, pipeline: str, toml: str = "") -> Path:
    return make_project(PROJECT_HEADER + toml, {"helpers_af.py": COUNTER}, pipeline=pipeline)


def calls(project: Path, name: str) -> int:
    path = project / f"calls-{name}.txt"
    return len(path.read_text()) if path.exists() else 0


def steps_by_name(result: RunResult) -> dict[str, Any]:
    return {s.name: s for s in result.steps}


def attempts_of(project: Project, run_id: str, asset: str) -> list[Any]:
    _, records = project.run(run_id)
    return sorted((r for r in records if r.asset == asset), key=lambda r: r.attempt)


# -- retries -----------------------------------------------------------------------------------

RETRIES = """\
from assetflow import RetryPolicy, asset
from helpers_af import bump


@asset(retries=RetryPolicy(max_retries=2))
def flaky(context):
    n = bump("flaky")
    context.log.info("attempt %d", n)
    if n < 3:
        raise ConnectionError(f"flaky attempt {n}")
    return context.warehouse.sql("select 42 as answer")


@asset(retries=RetryPolicy(max_retries=2))
def broken():
    n = bump("broken")
    raise ConnectionError(f"broken attempt {n}")


@asset(retries=RetryPolicy(max_retries=3, retry_on=(ConnectionError,)))
def picky_value_error():
    bump("picky_value_error")
    raise ValueError("not worth retrying")


@asset(retries=RetryPolicy(max_retries=3, retry_on=(ConnectionError,)))
def picky_connection_error(context):
    if bump("picky_connection_error") == 1:
        raise ConnectionError("worth retrying")
    return context.warehouse.sql("select 1 as x")


@asset(retries=RetryPolicy(max_retries=2, delay=0.2, backoff=2.0))
def patient():
    n = bump("patient")
    raise ConnectionError(f"patient attempt {n}")
"""


def test_retries_record_every_attempt(make_project: ProjectFactory, clean_imports: None) -> None:
    folder = project_with(make_project, RETRIES)
    project = Project.load(folder)
    result = project.materialize(workers=4)
    steps = steps_by_name(result)
    assert result.status.value == "failed"

    # Fails twice, then succeeds: three attempts, the step succeeds.
    assert (steps["flaky"].status.value, steps["flaky"].attempts) == ("success", 3)
    assert calls(folder, "flaky") == 3
    flaky = attempts_of(project, result.run_id, "flaky")
    assert [(a.attempt, a.status.value) for a in flaky] == [
        (1, "failed"),
        (2, "failed"),
        (3, "success"),
    ]
    assert [a.error for a in flaky] == [
        "ConnectionError: flaky attempt 1",
        "ConnectionError: flaky attempt 2",
        None,
    ]
    assert project.status("flaky")[0].status.value == "fresh"
    # A step counts once in the run's counts, by its last attempt.
    assert project.runs()[0].counts == {"success": 2, "failed": 3}
    logs = project.logs("flaky")
    assert [(row.attempt, row.record.message) for row in logs] == [
        (1, "attempt 1"),
        (2, "attempt 2"),
        (3, "attempt 3"),
    ]

    # Never more than max_retries retries.
    assert (steps["broken"].status.value, steps["broken"].attempts) == ("failed", 3)
    assert steps["broken"].error == "ConnectionError: broken attempt 3"
    assert calls(folder, "broken") == 3
    assert [a.status.value for a in attempts_of(project, result.run_id, "broken")] == ["failed"] * 3

    # retry_on: other exceptions fail at once, the listed ones are retried.
    assert (steps["picky_value_error"].attempts, calls(folder, "picky_value_error")) == (1, 1)
    assert steps["picky_value_error"].error == "ValueError: not worth retrying"
    assert steps["picky_connection_error"].status.value == "success"
    assert steps["picky_connection_error"].attempts == 2

    # delay * backoff ** (n - 1) between attempts: 0.2 s, then 0.4 s.
    patient = attempts_of(project, result.run_id, "patient")
    assert len(patient) == 3
    gaps = [(b.started_at - a.ended_at).total_seconds() for a, b in itertools.pairwise(patient)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39, gaps


# -- timeouts ----------------------------------------------------------------------------------

TIMEOUT = """\
import time

from assetflow import asset


@asset(timeout="0.5s")
def slow(context):
    context.log.info("going to sleep")
    time.sleep(5)
    return context.warehouse.sql("select 1 as x")


@asset
def after_slow(slow):
    return slow


@asset
def quick(context):
    return context.warehouse.sql("select 1 as x")
"""


def test_a_timed_out_attempt_fails_without_waiting_for_the_function(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    project = Project.load(project_with(make_project, TIMEOUT))
    started = time.monotonic()
    result = project.materialize()
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"the run waited {elapsed:.1f}s for a 0.5s timeout"
    steps = steps_by_name(result)
    assert result.status.value == "failed"
    assert steps["slow"].status.value == "failed"
    assert "timed out" in (steps["slow"].error or ""), steps["slow"].error
    assert steps["after_slow"].status.value == "skipped"
    assert steps["after_slow"].reason == "upstream failed: slow[-]"
    assert steps["quick"].status.value == "success"
    (attempt,) = attempts_of(project, result.run_id, "slow")
    assert attempt.status.value == "failed"
    assert 0.4 <= attempt.duration_s < 4
    status = {r.asset: r.status.value for r in project.status()}
    assert status == {"slow": "failed", "after_slow": "missing", "quick": "fresh"}


TIMEOUT_IN_QUERY = """\
import time

from assetflow import asset


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@asset(timeout="0.5s")
def slow_query(context):
    context.warehouse.create_function("nap", nap)
    context.warehouse.execute("select nap(3.0)").fetchall()
    return context.warehouse.sql("select 1 as x")


@asset
def quick(context):
    return context.warehouse.sql("select 1 as x")
"""


def test_a_timeout_during_a_warehouse_query_fails_just_that_step(
    make_project: ProjectFactory,
) -> None:
    # A subprocess: the timed-out query goes on in a thread of that process, not of pytest's.
    folder = project_with(make_project, TIMEOUT_IN_QUERY)
    code, out, err = run_cli(["materialize", "--json"], folder)
    assert "Traceback" not in err, err
    assert code == 1, err
    document = json.loads(out)
    assert document["status"] == "failed"
    steps = {s["asset"]: s for s in document["steps"]}
    assert steps["slow_query"]["status"] == "failed"
    assert "timed out" in steps["slow_query"]["error"]
    assert steps["quick"]["status"] == "success"


# -- pools and parallelism ---------------------------------------------------------------------

POOLS = """\
import time

from assetflow import DailyPartitions, asset
from helpers_af import record

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")


@asset(partitions=DAYS, pool="api")
def calls_api(context):
    started = time.time()
    time.sleep(0.25)
    record("calls_api", context.partition_key, started, time.time())
    return context.warehouse.sql("select 1 as x")


@asset(partitions=DAYS)
def local(context):
    started = time.time()
    time.sleep(0.25)
    record("local", context.partition_key, started, time.time())
    return context.warehouse.sql("select 1 as x")
"""


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_a_pool_of_one_never_runs_two_steps_at_once(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, POOLS, "[pools]\napi = 1\n")
    result = Project.load(folder).materialize(workers=4)
    assert result.status.value == "success" and len(result.steps) == 8
    rows = [json.loads(line) for line in (folder / "intervals.jsonl").read_text().splitlines()]
    api = [(s, e) for asset, _, s, e in rows if asset == "calls_api"]
    local = [(s, e) for asset, _, s, e in rows if asset == "local"]
    assert len(api) == len(local) == 4
    assert max_overlap(api) == 1, sorted(api)
    # The other steps do run side by side on the 4 workers (so the measure can see overlap).
    assert max_overlap(local) >= 2, sorted(local)


# -- failures, skips and fail-fast -------------------------------------------------------------

FAILING = """\
from assetflow import DailyPartitions, asset
from helpers_af import bump

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-06")


@asset(partitions=DAYS)
def extract(context):
    bump("extract-" + context.partition_key)
    if context.partition_key == "2024-01-01":
        raise RuntimeError("the first day is broken")
    return context.warehouse.sql("select 1 as x")


@asset(partitions=DAYS)
def load(extract):
    return extract
"""


def test_fail_fast_starts_nothing_after_the_first_failure(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, FAILING)
    project = Project.load(folder)
    result = project.materialize("extract", workers=1, fail_fast=True)
    assert result.status.value == "failed"
    steps = steps_by_name(result)
    assert steps["extract[2024-01-01]"].status.value == "failed"
    later = [f"extract[2024-01-0{day}]" for day in range(2, 6)]
    for name in later:
        assert steps[name].status.value == "skipped", steps[name]
        assert "fail-fast" in (steps[name].reason or ""), steps[name].reason
    assert [calls(folder, f"extract-2024-01-0{day}") for day in range(1, 6)] == [1, 0, 0, 0, 0]
    statuses = {r.partition: r.status.value for r in project.status("extract")}
    assert statuses == {"2024-01-01": "failed", **{f"2024-01-0{d}": "missing" for d in range(2, 6)}}


def test_without_fail_fast_independent_steps_go_on(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, FAILING)
    result = Project.load(folder).materialize(workers=1)
    assert result.status.value == "failed"
    outcome = {s.name: (s.status.value, s.reason) for s in result.steps}
    assert outcome == {
        "extract[2024-01-01]": ("failed", None),
        "load[2024-01-01]": ("skipped", "upstream failed: extract[2024-01-01]"),
        **{f"extract[2024-01-0{d}]": ("success", None) for d in range(2, 6)},
        **{f"load[2024-01-0{d}]": ("success", None) for d in range(2, 6)},
    }
    assert result.counts == {"failed": 1, "skipped": 1, "success": 8}


# -- context: logs and metadata ----------------------------------------------------------------

CONTEXT = """\
import logging

from assetflow import DailyPartitions, Output, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-03")


@asset(partitions=DAYS)
def visits(context):
    context.log.debug("connecting")
    context.log.info("loading visits for %s", context.partition_key)
    context.log.warning("%d rows look odd", 2)
    rows = context.warehouse.sql("select * from range(3) t(n)")
    context.add_metadata({"rows_seen": 3, "source": "api"})
    context.add_metadata({"window": [str(t) for t in context.time_window]})
    return Output(rows, metadata={"from_output": True})
"""


def test_context_log_and_metadata_are_recorded(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, CONTEXT)
    project = Project.load(folder)
    result = project.materialize()
    assert result.status.value == "success"

    records = project.logs("visits", "2024-01-02")
    assert [(r.record.level, r.record.message) for r in records] == [
        ("DEBUG", "connecting"),
        ("INFO", "loading visits for 2024-01-02"),
        ("WARNING", "2 rows look odd"),
    ]
    assert {(r.run_id, r.asset, r.partition, r.attempt) for r in records} == {
        (result.run_id, "visits", "2024-01-02", 1)
    }
    assert len(project.logs("visits")) == 6

    code, out, err = run_cli(["run", "show", result.run_id, "--json"], folder)
    assert code == 0, err
    attempts = {a["partition"]: a for a in json.loads(out)["attempts"]}
    metadata = attempts["2024-01-02"]["metadata"]
    assert metadata["rows_seen"] == 3 and metadata["source"] == "api"
    assert metadata["from_output"] is True
    assert metadata["window"] == ["2024-01-02 00:00:00+00:00", "2024-01-03 00:00:00+00:00"]
    assert attempts["2024-01-02"]["row_count"] == 3


# -- Output(data_version=...) ------------------------------------------------------------------

VERSIONED = """\
import pathlib

from assetflow import Output, asset

HERE = pathlib.Path(__file__).resolve().parent


@asset
def feed(context):
    version, value = (HERE / "feed.txt").read_text().split()
    rows = context.warehouse.sql(f"select {int(value)} as value")
    return Output(rows, data_version=version)


@asset
def summary(feed):
    return feed.select("value * 2 as doubled")
"""


def test_output_data_version_sets_the_data_version(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, VERSIONED)
    (folder / "feed.txt").write_text("v1 10")
    project = Project.load(folder)
    assert project.materialize().status.value == "success"
    status = {r.asset: r for r in project.status()}
    assert status["feed"].data_version == "v1"
    assert status["summary"].status.value == "fresh"

    # Other rows, same declared version: the declared version is what downstream compares.
    (folder / "feed.txt").write_text("v1 11")
    assert project.materialize("feed", force=True).status.value == "success"
    status = {r.asset: r for r in project.status()}
    assert (status["feed"].data_version, status["summary"].status.value) == ("v1", "fresh")

    (folder / "feed.txt").write_text("v2 12")
    project.materialize("feed", force=True)
    summary = {r.asset: r for r in project.status()}["summary"]
    assert summary.status.value == "stale"
    assert [(r.kind.value, r.detail) for r in summary.reasons] == [
        ("upstream_changed", "upstream feed changed (data version v1 → v2)")
    ]
    result = project.materialize()
    assert [s.name for s in result.steps] == ["summary"]
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select doubled from summary").fetchall() == [(24,)]


ORDERED = """\
import pathlib

from assetflow import asset

HERE = pathlib.Path(__file__).resolve().parent


def direction():
    return (HERE / "direction.txt").read_text().strip()


@asset
def in_table(context):
    return context.warehouse.sql(
        f"select n, n % 3 as m, 'row ' || n as label from range(50) t(n) order by n {direction()}"
    )


@asset(io="parquet")
def in_file(context):
    return context.warehouse.sql(
        f"select n, n % 7 as m from range(50) t(n) order by n {direction()}"
    )


@asset
def joined(in_table, in_file):
    return in_table.join(in_file, "n").aggregate("count(*) as rows")
"""


def test_the_same_rows_in_another_order_are_the_same_data_version(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, ORDERED)
    (folder / "direction.txt").write_text("asc")
    project = Project.load(folder)
    assert project.materialize().status.value == "success"
    versions = {r.asset: r.data_version for r in project.status()}
    (folder / "direction.txt").write_text("desc")
    again = project.materialize(["in_table", "in_file"], force=True)
    assert [s.status.value for s in again.steps] == ["success", "success"]
    after = project.status()
    assert {r.asset: r.data_version for r in after} == versions
    assert {r.asset: r.status.value for r in after}["joined"] == "fresh"
    assert project.plan().is_empty


# -- IO managers -------------------------------------------------------------------------------

PARQUET = """\
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")


@asset(partitions=DAYS, io="parquet")
def events(context):
    return context.warehouse.sql(
        "select $day::date as day, n from range(1 + day($day::date)) t(n)",
        params={"day": context.partition_key},
    )


@asset(partitions=DAYS)
def event_counts(events):
    return events.aggregate("day, count(*) as events, sum(n) as total", "day")
"""


def test_parquet_io_writes_files_that_downstream_reads(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, PARQUET)
    result = Project.load(folder).materialize()
    assert result.status.value == "success" and len(result.steps) == 6
    files = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*.parquet"))
    assert files == [f"data/events/2024-01-0{d}.parquet" for d in (1, 2, 3)]
    with duckdb.connect() as con:
        rows = con.execute(
            f"select count(*) from read_parquet('{folder / 'data/events/2024-01-02.parquet'}')"
        ).fetchone()
    assert rows == (3,)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        counts = con.execute(
            "select strftime(day, '%Y-%m-%d'), events, total from event_counts order by day"
        ).fetchall()
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
    assert counts == [("2024-01-01", 2, 1), ("2024-01-02", 3, 3), ("2024-01-03", 4, 6)]
    assert "events" not in tables


NONE_IO = """\
import pathlib

from assetflow import asset

HERE = pathlib.Path(__file__).resolve().parent


@asset(io="none")
def export(context):
    (HERE / "export.csv").write_text("id\\n1\\n2\\n")
    context.log.info("exported")


@asset(deps=["export"])
def imported(context):
    path = str(HERE / "export.csv")
    return context.warehouse.sql(f"select * from read_csv('{path}')")


@asset
def sees_nothing(context, export):
    context.add_metadata({"input_was_none": export is None})
    return None
"""


def test_none_io_stores_nothing_and_downstream_still_runs(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, NONE_IO)
    project = Project.load(folder)
    result = project.materialize()
    assert result.status.value == "success"
    assert result.steps[0].name == "export"
    assert (folder / "export.csv").exists()
    status = {r.asset: r for r in project.status()}
    assert {name: r.status.value for name, r in status.items()} == dict.fromkeys(
        ("export", "imported", "sees_nothing"), "fresh"
    )
    assert status["export"].data_version  # a version per materialization
    _, attempts = project.run(result.run_id)
    by_asset = {a.asset: a for a in attempts}
    assert by_asset["sees_nothing"].metadata["input_was_none"] is True
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select id from imported order by id").fetchall() == [(1,), (2,)]
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
    assert "export" not in tables


SQL_TOML = """\
[assets.daily_totals]
sql = \"\"\"
select {{ partition_key }} as day_key, count(*) as payments, sum(amount) as total
from payments
where day = {{ partition_key }}::date
\"\"\"
partitions = { daily = { start = "2024-01-01", end = "2024-01-04" } }
"""

SQL_PIPELINE = """\
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")


@asset(partitions=DAYS)
def payments(context):
    return context.warehouse.sql(
        "select $day::date as day, n * 10 as amount from range(1, 1 + day($day::date)) t(n)",
        params={"day": context.partition_key},
    )
"""


def test_sql_asset_from_toml_sees_the_partition_key(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    folder = project_with(make_project, SQL_PIPELINE, SQL_TOML)
    project = Project.load(folder)
    assert project.asset("daily_totals").dep_names == ("payments",)
    result = project.materialize("daily_totals")
    assert result.status.value == "success"
    assert [s.name for s in result.steps if s.asset == "daily_totals"] == [
        f"daily_totals[2024-01-0{d}]" for d in (1, 2, 3)
    ]
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select _partition, day_key, payments, total from daily_totals order by day_key"
        ).fetchall()
    assert rows == [
        ("2024-01-01", "2024-01-01", 1, 10),
        ("2024-01-02", "2024-01-02", 2, 30),
        ("2024-01-03", "2024-01-03", 3, 60),
    ]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_self_dependency_runs_day_by_day(
    make_project: ProjectFactory, clean_imports: None, workers: int
) -> None:
    folder = project_with(
        make_project,
        """\
        from assetflow import DailyPartitions, TimeWindowMapping, asset

        DAYS = DailyPartitions(start="2024-01-01", end="2024-01-11")


        @asset(partitions=DAYS)
        def sales(context):
            return context.warehouse.sql(
                "select $day::date as day, day($day::date) as amount",
                params={"day": context.partition_key},
            )


        @asset(partitions=DAYS, deps={"total": TimeWindowMapping(start_offset=-1, end_offset=-1)})
        def total(sales, total):
            if total is None:
                return sales.select("day, amount as total")
            before = total.select("total as before")
            return sales.cross(before).select("day, before + amount as total")
        """,
    )
    result = Project.load(folder).materialize(workers=workers)
    assert result.status.value == "success" and len(result.steps) == 20
    order = [s.name for s in result.steps if s.asset == "total"]
    assert order == [f"total[2024-01-{d:02d}]" for d in range(1, 11)]
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        running = con.execute("select * exclude (_partition) from total order by day").fetchall()
    assert [row[1] for row in running] == [d * (d + 1) // 2 for d in range(1, 11)]
