"""The Assets table fits the terminal from 80 columns up: no column hidden off to the right."""

from __future__ import annotations

import pytest
import seed
from hypothesis import given
from hypothesis import strategies as st
from pilots import screen_lines, settle, sync
from textual.widgets import DataTable

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.columns import ASSETS, RUNS, columns_for, needed


@given(st.integers(min_value=80, max_value=1000))
def test_the_columns_fill_any_width_from_80_up(width: int) -> None:
    columns = columns_for(width)
    assert needed(columns) == width  # all visible, and the room used
    labels = [label for label, _ in columns]
    assert labels[:2] == ["Asset", "State"] and labels[-2:] == ["Freshness", "Schedule"]
    base = dict(ASSETS.wide if len(columns) == len(ASSETS.wide) else ASSETS.compact)
    assert all(size >= base[label] for label, size in columns)
    assert (len(columns) == len(ASSETS.wide)) == (width >= 110)  # the wide one when it fits
    runs = RUNS.columns_for(width)
    assert needed(runs) == width
    assert [label for label, _ in runs][-1] in ("Selection", "Kind · selection")
    assert (len(runs) == len(RUNS.wide)) == (width >= 124)


@pytest.mark.parametrize("width", [80, 81, 92, 100, 109, 110, 132, 200])
def test_freshness_and_schedule_stay_visible(seeded: Project, width: int) -> None:
    @sync
    async def run() -> None:
        app = AssetflowApp(seeded, now=lambda: seed.NOW, refresh_interval=None)
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#assets", DataTable)
            assert table.max_scroll_x == 0, "the table scrolls sideways"
            lines = screen_lines(app)
            header = lines[2]
            for label in ("Asset", "State", "Freshness", "Schedule"):
                assert label in header, (label, header)
            report = next(line for line in lines if " report " in line)
            assert "overdue (26h)" in report and "0 6 * * *" in report, report
            raw = next(line for line in lines if " raw " in line)
            assert "failed" in raw and "13" in raw, raw  # its state and its fresh count

    run()


@sync
async def test_a_resize_keeps_the_columns_and_the_cursor(seeded: Project) -> None:
    app = AssetflowApp(seeded, now=lambda: seed.NOW, refresh_interval=None)
    async with app.run_test(size=(140, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # clean
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        table = app.screen.query_one("#assets", DataTable)
        assert table.max_scroll_x == 0
        assert "Schedule" in screen_lines(app)[2]
        assert app.screen.selected_asset() == "clean"  # type: ignore[attr-defined]
        await pilot.resize_terminal(140, 24)
        await settle(pilot)
        assert "Took" in screen_lines(app)[2]
        assert app.screen.selected_asset() == "clean"  # type: ignore[attr-defined]


@sync
async def test_a_resize_while_another_screen_is_shown(seeded: Project) -> None:
    app = AssetflowApp(seeded, now=lambda: seed.NOW, refresh_interval=None)
    async with app.run_test(size=(140, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")  # the Runs section
        await settle(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert app.screen.query_one("#assets", DataTable).max_scroll_x == 0
        await pilot.press("enter")  # Partitions, on top of Assets
        await settle(pilot)
        await pilot.resize_terminal(140, 24)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert "Took" in screen_lines(app)[2]


@pytest.mark.parametrize("width", [80, 100, 123, 124, 160])
def test_every_column_of_the_runs_tables_is_visible(seeded: Project, width: int) -> None:
    @sync
    async def run() -> None:
        app = AssetflowApp(seeded, now=lambda: seed.NOW, refresh_interval=None)
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.query_one("#runs", DataTable).max_scroll_x == 0
            lines = screen_lines(app)
            failed = next(line for line in lines if seed.FAILED_RUN in line)
            assert "failed" in failed and "3/3 1✗" in failed, failed
            assert "materialize *" in failed or ("materialize" in failed and " * " in failed)
            await pilot.resize_terminal(80 if width >= 124 else 160, 24)  # the other layout
            await settle(pilot)
            assert app.screen.query_one("#runs", DataTable).max_scroll_x == 0
            await pilot.resize_terminal(width, 24)
            await pilot.press("enter")  # the failed run: its steps
            await settle(pilot)
            assert app.screen.query_one("#steps", DataTable).max_scroll_x == 0
            skipped = next(line for line in screen_lines(app) if "clean[2024-01-10]" in line)
            assert "skipped" in skipped and "upstream fail" in skipped, skipped
            await pilot.press("down")  # the cursor on the skipped step, kept by a resize
            await pilot.resize_terminal(80 if width >= 124 else 160, 24)
            await settle(pilot)
            assert app.screen.query_one("#steps", DataTable).max_scroll_x == 0
            step = app.screen.selected_step()  # type: ignore[attr-defined]
            assert step is not None and step.label == "clean[2024-01-10]"

    run()
