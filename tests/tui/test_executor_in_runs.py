"""The Runs screen says where a run's steps ran (a process pool, a Dask cluster)."""

from __future__ import annotations

from pathlib import Path

from helpers import write_project
from pilots import settle, sync, text_of

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.runs_screen import RunScreen

TOML = """
[project]
name = "pool"
modules = ["pipeline"]

[executor]
kind = "processes"
workers = 2
"""

PIPELINE = """
from assetflow import asset

@asset(io="parquet")
def numbers(context):
    return context.warehouse.sql("select 1 as n")
"""


@sync
async def test_the_run_screen_shows_the_executor(tmp_path: Path, clean_imports: None) -> None:
    root = write_project(tmp_path / "project", TOML, {"pipeline.py": PIPELINE})
    project = Project.load(root)
    result = project.materialize()
    assert result.status == "success"
    app = AssetflowApp(project, refresh_interval=None)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert "on processes (2 workers)" in text_of(app, "#status")
