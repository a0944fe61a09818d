"""The Partitions screen's preview pane (issue 17, item 3): the first rows the partition under
the cursor holds, read as ``assetflow show`` reads them, or why there are none."""

from __future__ import annotations

from pathlib import Path

from pilots import settle, sync, text_of

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.partitions_screen import PartitionsScreen

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, asset

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")

@asset(partitions=DAYS)
def sales(context):
    day = context.partition_key
    return pa.table({
        "day": [day] * 8,
        "n": list(range(8)),
        "note": ["two\\nlines", None, "x" * 60, "ok", "ok", "ok", "ok", "ok"],
    })
"""


@sync
async def test_the_preview_pane_shows_the_first_rows(clean_imports: None, tmp_path: Path) -> None:
    from helpers import write_project

    project = Project.load(write_project(tmp_path / "preview", pipeline=PIPELINE))
    for day in ("2024-01-02", "2024-01-03"):
        assert project.materialize("sales", partition=day).status.value == "success"
    app = AssetflowApp(project, refresh_interval=None)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        assert isinstance(app.screen, PartitionsScreen)
        preview = text_of(app, "#preview").splitlines()
        assert preview[0] == "data: first 5 of 8 row(s)"
        assert preview[1].split() == ["day", "n", "note"]
        assert preview[2].split() == ["2024-01-03", "0", "two\\nlines"]  # escaped: one line
        assert preview[3].split() == ["2024-01-03", "1", "NULL"]
        assert preview[4].split() == ["2024-01-03", "2", "x" * 23 + "…"]
        assert len(preview) == 2 + 5
        await pilot.press("up")
        await settle(pilot, 0.3)
        assert text_of(app, "#preview").splitlines()[2].startswith("  2024-01-02")
        await pilot.press("up")
        await settle(pilot, 0.3)
        assert text_of(app, "#preview") == (
            "data: asset 'sales' partition '2024-01-01' was never materialized: "
            "`assetflow materialize sales --partition 2024-01-01`"
        )
