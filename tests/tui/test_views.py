"""The headless view models: layouts, sorting, and a core that never imports textual."""

from __future__ import annotations

import subprocess
import sys

import seed
from helpers import run_cli

from assetflow import Project
from assetflow.partitions.core import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    StaticPartitions,
)
from assetflow.views import build_grid, load_assets, load_partition, load_run, load_runs


def statuses_of(grid: object) -> list[str]:
    from assetflow.views.grid import Grid

    assert isinstance(grid, Grid)
    return [
        "".join(" " if c is None else c.status[0] for c in line.cells)
        for line in grid.lines
        if line.header is None
    ]


def test_daily_grid_is_a_calendar_of_weeks() -> None:
    days = DailyPartitions(start="2024-01-01", end="2024-01-15")  # Monday 1st to Sunday 14th
    keys = days.keys()
    grid = build_grid(days, keys, {"2024-01-10": "failed"})
    assert grid.lines[0].label == "2024" and grid.lines[0].header is not None
    assert grid.lines[0].header.startswith("Jan")
    rows = statuses_of(grid)
    assert rows[0].startswith("mm") and rows[2].startswith("mf")  # Wednesday 10th failed
    assert grid.find("2024-01-10") == (3, 1) and grid.last == "2024-01-14"


def test_other_layouts() -> None:
    hours = HourlyPartitions(start="2024-01-01T00:00", end="2024-01-02T03:00")
    grid = build_grid(hours, hours.keys(), {})
    assert [line.label for line in grid.lines] == ["", "2024-01-01", "2024-01-02"]
    assert len(grid.lines[1].cells) == 24 and grid.find("2024-01-02T02:00") == (2, 2)
    months = MonthlyPartitions(start="2023-11", end="2024-03")
    grid = build_grid(months, months.keys(), {"2024-02": "stale"})
    assert statuses_of(grid) == [" " * 10 + "mm", "ms" + " " * 10]
    static = StaticPartitions(["eu", "us"])
    assert [ln.label for ln in build_grid(static, static.keys(), {}).lines] == ["eu", "us"]
    multi = MultiPartitions(
        {"region": static, "day": DailyPartitions(start="2024-01-01", end="2024-01-04")}
    )
    grid = build_grid(multi, multi.keys(), {"us|2024-01-02": "fresh"})
    # The time dimension runs down, the other across: 3 days x 2 regions.
    assert [ln.label for ln in grid.lines] == ["", "2024-01-01", "2024-01-02", "2024-01-03"]
    assert statuses_of(grid) == ["mm", "mf", "mm"]


def test_assets_view_and_runs_view(seeded: Project) -> None:
    view = load_assets(seeded, seed.NOW)
    assert [(r.name, r.worst) for r in view.rows][:2] == [("raw", "failed"), ("report", "overdue")]
    assert view.summary.text() == (
        "4 assets: 1 failed · 1 overdue · 1 stale · 1 missing  │  0 runs in progress"
    )
    assert view.rows[0].typical_duration_s == 1.5
    runs = load_runs(seeded)
    assert [(r.run_id, r.status, r.done) for r in runs.rows] == [
        (seed.FAILED_RUN, "failed", 3),
        (seed.FIRST_RUN, "success", 31),
    ]
    detail = load_run(seeded, seed.FAILED_RUN)
    (failed,) = detail.failed
    assert (
        failed.tries == 2 and failed.last is not None and "ValueError" in str(failed.last.traceback)
    )


def test_partition_detail_lists_its_own_attempts_newest_first(seeded: Project) -> None:
    raw = load_partition(seeded, "raw", "2024-01-10", seed.NOW)
    assert [(a.run_id, a.attempt, a.status) for a in raw.attempts] == [
        (seed.FAILED_RUN, 2, "failed"),
        (seed.FAILED_RUN, 1, "failed"),
        (seed.FIRST_RUN, 1, "success"),
    ]
    clean = load_partition(seeded, "clean", "2024-01-10", seed.NOW)
    assert [(a.attempt, a.status, a.reason) for a in clean.attempts] == [
        (0, "skipped", "upstream failed: raw[2024-01-10]"),
        (1, "success", None),
    ]


def test_the_core_never_imports_textual() -> None:
    code = (
        "import sys, assetflow, assetflow.views, assetflow.cli.app, assetflow.application.project\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual imported'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_rerun_of_a_run_without_failures_is_refused(seeded: Project) -> None:
    code, _, err = run_cli(["run", "rerun", seed.FIRST_RUN], cwd=seeded.root)
    assert code == 2 and f"run {seed.FIRST_RUN} has no failed step" in err
    code, _, err = run_cli(["run", "rerun", "nope"], cwd=seeded.root)
    assert code == 2 and "unknown run 'nope'" in err
