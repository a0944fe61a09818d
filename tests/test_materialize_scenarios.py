"""End-to-end scenarios through the real command line: staleness, early cutoff, failures.

The shop scenarios run on a copy of the example project (``assets.toml`` + ``examples/``) in
``tmp_path``, cut down to January 2024 so the whole graph (128 partitions) materializes in a few
seconds. Two edits make the copy testable, and nothing else changes:

- the partition definitions end on 2024-02-01 (``DAYS``, ``MONTHS`` and ``daily_revenue``);
- ``orders`` wraps the example's generator: it adds ``bumps.json[day]`` to every positive amount
  of that day, so a test changes one day's data by editing a file and rematerializing that day.

Expected statuses and plans are written out by hand, never computed with the library.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest
from helpers import REPO_ROOT, ProjectFactory, run_cli

from assetflow import Project
from assetflow.planner.explain import render_why

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

JANUARY = [f"2024-01-{day:02d}" for day in range(1, 32)]
DAILY = ("orders", "orders_cleaned", "daily_revenue", "cumulative_revenue")
# Every partition of the January shop, by name.
ALL_NODES = {
    "customer_export",  # a source: fresh while its file is there
    "customers",
    "products",
    "monthly_revenue[2024-01]",
    "revenue_dashboard",
    *(f"{asset}[{day}]" for asset in DAILY for day in JANUARY),
}

SOURCES = {"customer_export"}

BUMP_HELPER = '''

def _bumped(context: Context, relation):
    """Test hook: add bumps.json[day] to every positive amount of that day's orders."""
    import json
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "bumps.json"
    bump = json.loads(path.read_text()).get(context.partition_key)
    if bump is None:
        return relation
    return relation.select(
        "* replace ((case when amount > 0 then amount + %s else amount end)"
        "::decimal(10, 2) as amount)" % bump
    )
'''


# -- helpers -----------------------------------------------------------------------------------


def replace_once(text: str, old: str, new: str, what: str) -> str:
    assert text.count(old) == 1, f"the example changed: expected {old!r} once ({what})"
    return text.replace(old, new)


def copy_january_shop(dest: Path) -> Path:
    """The example project, January 2024 only, with ``orders`` reading ``bumps.json``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        REPO_ROOT / "examples", dest / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    toml = (REPO_ROOT / "assets.toml").read_text(encoding="utf-8")
    toml = replace_once(toml, 'end = "2025-01-01"', 'end = "2024-02-01"', "daily_revenue")
    (dest / "assets.toml").write_text(toml, encoding="utf-8")
    module = dest / "examples" / "shop" / "assets.py"
    source = module.read_text(encoding="utf-8")
    source = replace_once(source, 'end="2025-01-01"', 'end="2024-02-01"', "DAYS")
    source = replace_once(source, 'end="2025-01"', 'end="2024-02"', "MONTHS")
    source = replace_once(
        source,
        "def orders(context: Context):\n",
        "def orders(context: Context):\n"
        "    return _bumped(context, _generated_orders(context))\n\n\n"
        "def _generated_orders(context: Context):\n",
        "orders",
    )
    module.write_text(source + BUMP_HELPER, encoding="utf-8")
    (dest / "bumps.json").write_text("{}", encoding="utf-8")
    return dest


def cli(args: list[str], cwd: Path, expect: int = 0) -> str:
    code, out, err = run_cli(args, cwd)
    assert code == expect, f"assetflow {' '.join(args)}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return out


def cli_json(args: list[str], cwd: Path, expect: int = 0) -> Any:
    return json.loads(cli([*args, "--json"], cwd, expect))


def node(record: dict[str, Any]) -> str:
    return (
        record["asset"]
        if record["partition"] == "-"
        else f"{record['asset']}[{record['partition']}]"
    )


def examples_modules() -> dict[str, ModuleType]:
    return {n: m for n, m in sys.modules.items() if n == "examples" or n.startswith("examples.")}


def load_shop(project: Path) -> Project:
    """Load a shop copy in-process, afresh: its module may have been rewritten since."""
    for name in examples_modules():
        del sys.modules[name]
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return Project.load(project)
    finally:
        sys.dont_write_bytecode = saved


def partitions(project: Path) -> dict[str, dict[str, Any]]:
    """Every partition's ``status --partitions --json`` record (in-process), by name."""
    return {node(r.to_json()): r.to_json() for r in load_shop(project).status()}


def with_status(project: Path, status: str) -> set[str]:
    return {name for name, r in partitions(project).items() if r["status"] == status}


def step_names(document: dict[str, Any]) -> list[str]:
    return [node(step) for step in document["steps"]]


def check_running_totals(project: Path) -> None:
    """cumulative_revenue equals the running sum of daily_revenue, day by day."""
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql(
            """
            select d.order_date, d.revenue, c.revenue_to_date,
                   sum(d.revenue) over (order by d.order_date) as expected
            from daily_revenue d join cumulative_revenue c using (order_date)
            order by d.order_date
            """
        ).fetchall()
        count = con.execute("select count(*) from cumulative_revenue").fetchone()
    assert count == (31,)
    assert [str(row[0]) for row in rows] == JANUARY
    for day, revenue, to_date, expected in rows:
        assert revenue > 0, day
        assert to_date == expected, f"{day}: revenue_to_date {to_date} != running sum {expected}"


# -- the January shop --------------------------------------------------------------------------


def build_january_shop(project: Path) -> None:
    copy_january_shop(project)
    selection = ["+revenue_dashboard", "+cumulative_revenue"]
    january = ["--from", "2024-01-01", "--to", "2024-01-31", "--workers", "4"]
    document = cli_json(["materialize", *selection, *january], project)
    assert document["status"] == "success"
    assert set(step_names(document)) == ALL_NODES - SOURCES  # a source is never a step
    assert len(document["steps"]) == len(ALL_NODES - SOURCES)


@pytest.fixture(scope="module")
def shop_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The January shop, fully materialized with 4 workers, once for all test workers.

    Under pytest-xdist the workers share it (built by the first, under a file lock); tests only
    ever copy it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None or fcntl is None:
        project = tmp_path_factory.mktemp("shop") / "shop"
        build_january_shop(project)
        return project
    shared = tmp_path_factory.getbasetemp().parent
    project = shared / "january-shop"
    with open(shared / "january-shop.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (project / "built").exists():
                shutil.rmtree(project, ignore_errors=True)
                build_january_shop(project)
                (project / "built").write_text("ok", encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return project


@pytest.fixture
def shop(shop_base: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the materialized January shop (state and warehouse included).

    Tests load it in-process too, as the package ``examples``: the repository's own
    ``examples`` modules (if this process imported them) are put back afterwards.
    """
    saved_path, saved_modules = list(sys.path), examples_modules()
    yield Path(shutil.copytree(shop_base, tmp_path / "shop"))
    sys.path[:] = saved_path
    for name in examples_modules():
        del sys.modules[name]
    sys.modules.update(saved_modules)


def test_the_first_run_makes_everything_fresh_with_correct_running_totals(shop: Path) -> None:
    """Four workers, and the self-dependent cumulative_revenue still adds up day by day."""
    assert with_status(shop, "fresh") == ALL_NODES
    check_running_totals(shop)


def day_revenue(project: Path, day: str) -> tuple[Any, Any]:
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute(
            "select revenue, orders from daily_revenue where order_date = $day::date",
            {"day": day},
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_changing_one_days_data_makes_exactly_its_dependents_stale(shop: Path) -> None:
    revenue_before, _ = day_revenue(shop, "2024-01-03")
    other_before = day_revenue(shop, "2024-01-04")
    (shop / "bumps.json").write_text('{"2024-01-03": 1}', encoding="utf-8")
    run = cli_json(["materialize", "orders", "--partition", "2024-01-03", "--force"], shop)
    assert step_names(run) == ["orders[2024-01-03]"]

    statuses = partitions(shop)
    stale = {name for name, r in statuses.items() if r["status"] == "stale"}
    expected = {
        "orders_cleaned[2024-01-03]",
        "daily_revenue[2024-01-03]",
        "monthly_revenue[2024-01]",
        "revenue_dashboard",
        # the self-dependency carries the change to every later day
        *(f"cumulative_revenue[2024-01-{day:02d}]" for day in range(3, 32)),
    }
    assert stale == expected
    assert {name for name, r in statuses.items() if r["status"] == "fresh"} == ALL_NODES - expected

    reasons = statuses["orders_cleaned[2024-01-03]"]["reasons"]
    assert [r["kind"] for r in reasons] == ["upstream_changed"]
    assert re.fullmatch(
        r"upstream orders\[2024-01-03\] changed \(data version \S+ → \S+\)", reasons[0]["detail"]
    ), reasons
    assert statuses["daily_revenue[2024-01-03]"]["reasons"] == [
        {"kind": "upstream_stale", "detail": "upstream orders_cleaned[2024-01-03] is stale"}
    ]
    assert statuses["cumulative_revenue[2024-01-04]"]["reasons"] == [
        {"kind": "upstream_stale", "detail": "upstream cumulative_revenue[2024-01-03] is stale"}
    ]
    # `why` follows the chain down to the partition whose data changed.
    why = render_why(load_shop(shop).why("revenue_dashboard"))
    assert "revenue_dashboard is stale" in why
    assert "upstream orders[2024-01-03] changed (data version" in why

    # Making it fresh runs exactly the stale partitions, each after what it reads.
    assert {step.name for step in load_shop(shop).plan("*").steps} == expected
    again = cli_json(["materialize", "*", "--workers", "4"], shop)
    assert again["status"] == "success"
    assert set(step_names(again)) == expected
    check_running_totals(shop)
    # Every one of that day's cleaned orders is 1.00 dearer; other days are untouched.
    revenue, orders = day_revenue(shop, "2024-01-03")
    assert revenue == revenue_before + orders
    assert day_revenue(shop, "2024-01-04") == other_before


def reformat_with_comments(path: Path) -> None:
    """Add comments everywhere and reformat the module (line length 60, single quotes)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("def "):
            lines.append("# reviewed: no change in behaviour below")
        lines.append(line)
        if line.startswith("def ") and line.endswith(":"):
            lines.append("    # a comment inside the function body")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.fail("ruff is not installed; install the dev extra: pip install -e '.[dev]'")
    subprocess.run(
        [
            str(ruff),
            "format",
            "--isolated",
            "--line-length",
            "60",
            "--config",
            "format.quote-style='single'",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


def test_comment_and_formatting_changes_make_nothing_stale(shop: Path) -> None:
    module = shop / "examples" / "shop" / "assets.py"
    before = module.read_text(encoding="utf-8")
    reformat_with_comments(module)
    after = module.read_text(encoding="utf-8")
    assert after != before
    assert after.count("# a comment inside the function body") >= 8
    assert with_status(shop, "fresh") == ALL_NODES
    assert load_shop(shop).plan("*").is_empty


def test_a_code_change_with_identical_output_stops_at_that_asset(shop: Path) -> None:
    module = shop / "examples" / "shop" / "assets.py"
    source = module.read_text(encoding="utf-8")
    source = replace_once(
        source,
        "\"status <> 'cancelled' and amount > 0\"",
        "\"amount > 0 and not (status = 'cancelled')\"",
        "orders_cleaned filter",
    )
    module.write_text(source, encoding="utf-8")

    statuses = partitions(shop)
    code_changed = {f"orders_cleaned[{day}]" for day in JANUARY}
    downstream = {
        "monthly_revenue[2024-01]",
        "revenue_dashboard",
        *(
            f"{asset}[{day}]"
            for asset in ("daily_revenue", "cumulative_revenue")
            for day in JANUARY
        ),
    }
    assert {n for n, r in statuses.items() if r["status"] == "stale"} == code_changed | downstream
    for name in code_changed:
        kinds = [r["kind"] for r in statuses[name]["reasons"]]
        assert kinds == ["code_changed"], (name, statuses[name]["reasons"])
        assert statuses[name]["reasons"][0]["detail"].startswith("code of orders_cleaned changed")
    for name in downstream:
        kinds = {r["kind"] for r in statuses[name]["reasons"]}
        assert kinds == {"upstream_stale"}, (name, statuses[name]["reasons"])

    versions = {n: r["data_version"] for n, r in statuses.items()}
    run = cli_json(["materialize", "orders_cleaned"], shop)
    assert run["status"] == "success"
    assert set(step_names(run)) == code_changed

    # Same rows, same data versions: nothing downstream is stale (early cutoff).
    after = partitions(shop)
    assert {n for n, r in after.items() if r["status"] == "fresh"} == ALL_NODES
    assert {n: r["data_version"] for n, r in after.items()} == versions
    assert load_shop(shop).plan("*").is_empty


# -- a failing partition -----------------------------------------------------------------------

FAILING_PIPELINE = """\
from assetflow import DailyPartitions, TimeWindowMapping, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-06")


def read_source(day):
    if day == "2024-01-03":
        raise RuntimeError(f"no export file for {day}")
    return int(day[-2:])


@asset(partitions=DAYS)
def raw(context):
    context.log.info("fetching %s", context.partition_key)
    context.log.warning("the export for %s is late", context.partition_key)
    value = read_source(context.partition_key)
    return context.warehouse.sql(
        "select $day::date as day, $v::int as v",
        params={"day": context.partition_key, "v": value},
    )


@asset(partitions=DAYS)
def cleaned(raw):
    return raw.filter("v > 0")


@asset(
    partitions=DAYS,
    deps={"running": TimeWindowMapping(start_offset=-1, end_offset=-1)},
)
def running(cleaned, running):
    if running is None:
        return cleaned.select("day, v as total")
    previous = running.select("total as previous")
    return cleaned.cross(previous).select("day, previous + v as total")


@asset
def summary(cleaned):
    return cleaned.aggregate("count(*) as days, sum(v) as v")


@asset(partitions=DAYS)
def weather(context):
    return context.warehouse.sql("select $day::date as day", params={"day": context.partition_key})
"""

DAYS5 = [f"2024-01-0{day}" for day in range(1, 6)]


def test_a_failing_partition_skips_its_downstream_and_is_rerun_once_fixed(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    project = make_project(pipeline=FAILING_PIPELINE)
    run = cli_json(["materialize", "*"], project, expect=1)
    assert run["status"] == "failed"
    steps = {node(step): step for step in run["steps"]}
    assert steps["raw[2024-01-03]"]["status"] == "failed"
    assert steps["raw[2024-01-03]"]["error"] == "RuntimeError: no export file for 2024-01-03"
    assert steps["raw[2024-01-03]"]["attempts"] == 1
    skipped = {
        "cleaned[2024-01-03]",
        "running[2024-01-03]",
        "running[2024-01-04]",
        "running[2024-01-05]",
        "summary",
    }
    assert {n for n, s in steps.items() if s["status"] == "skipped"} == skipped
    for name in skipped:
        assert steps[name]["reason"] == "upstream failed: raw[2024-01-03]", steps[name]
    succeeded = {
        *(
            f"{asset}[{day}]"
            for asset in ("raw", "cleaned")
            for day in DAYS5
            if day != "2024-01-03"
        ),
        "running[2024-01-01]",
        "running[2024-01-02]",
        *(f"weather[{day}]" for day in DAYS5),
    }
    assert {n for n, s in steps.items() if s["status"] == "success"} == succeeded
    assert len(steps) == len(run["steps"]) == len(succeeded) + len(skipped) + 1

    # The error and its traceback, in text and JSON.
    text = cli(["run", "show", run["run_id"]], project)
    assert "RuntimeError: no export file for 2024-01-03" in text
    assert "Traceback (most recent call last)" in text
    assert "in read_source" in text
    detail = cli_json(["run", "show", run["run_id"]], project)
    assert detail["run_id"] == run["run_id"]
    assert detail["status"] == "failed"
    failed = [a for a in detail["attempts"] if a["status"] == "failed"]
    assert [(a["asset"], a["partition"]) for a in failed] == [("raw", "2024-01-03")]
    assert failed[0]["error"] == "RuntimeError: no export file for 2024-01-03"
    assert "Traceback (most recent call last)" in failed[0]["traceback"]
    assert 'raise RuntimeError(f"no export file for {day}")' in failed[0]["traceback"]
    skipped_attempts = {
        (f"{a['asset']}[{a['partition']}]" if a["partition"] != "-" else a["asset"]): a["reason"]
        for a in detail["attempts"]
        if a["status"] == "skipped"
    }
    assert skipped_attempts == dict.fromkeys(skipped, "upstream failed: raw[2024-01-03]")

    # The records the function logged before it raised.
    logs = cli(["logs", "raw", "2024-01-03"], project).splitlines()
    assert len(logs) == 2, logs
    assert "INFO" in logs[0] and logs[0].endswith("fetching 2024-01-03")
    assert "WARNING" in logs[1] and logs[1].endswith("the export for 2024-01-03 is late")
    assert all(run["run_id"] in line for line in logs)

    statuses = {
        (r.asset if r.partition == "-" else f"{r.asset}[{r.partition}]"): r.status.value
        for r in Project.load(project).status()
    }
    assert statuses["raw[2024-01-03]"] == "failed"
    assert {n for n, status in statuses.items() if status == "missing"} == skipped

    # Fix the helper (raw's own code, hence its code version, is unchanged) and run again.
    fixed = FAILING_PIPELINE.replace(
        '        raise RuntimeError(f"no export file for {day}")\n', "        return 3\n"
    )
    assert fixed != FAILING_PIPELINE
    (project / "pipeline.py").write_text(fixed, encoding="utf-8")
    second = cli_json(["materialize", "*"], project)
    assert second["status"] == "success"
    assert step_names(second)[0] == "raw[2024-01-03]"
    assert set(step_names(second)) == {"raw[2024-01-03]", *skipped}
    assert all(step["status"] == "success" for step in second["steps"])
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        totals = con.execute("select day, total from running order by day").fetchall()
    assert [row[1] for row in totals] == [1, 3, 6, 10, 15]


def test_failed_run_exit_code_and_plain_output(make_project: ProjectFactory) -> None:
    project = make_project(pipeline=FAILING_PIPELINE)
    code, out, err = run_cli(["materialize", "raw", "cleaned"], project)
    assert code == 1, err
    assert "Traceback" not in err
    text = out + err
    assert "raw[2024-01-03]" in text and "no export file for 2024-01-03" in text
    assert "upstream failed: raw[2024-01-03]" in text
