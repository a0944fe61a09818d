"""Pilot tests: every screen and action of ``assetflow ui`` on the seeded project."""

from __future__ import annotations

import seed
from pilots import cells_of, rows_of, runs_of, settle, sync, text_of, wait_until

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.dialogs import BackfillDialog, ConfirmDialog, HelpScreen
from assetflow.tui.lineage_screen import LineageScreen
from assetflow.tui.partitions_screen import PartitionsScreen
from assetflow.tui.runs_screen import RunScreen, RunsScreen


def make_app(project: Project, refresh: float | None = None) -> AssetflowApp:
    return AssetflowApp(project, now=lambda: seed.NOW, refresh_interval=refresh)


@sync
async def test_assets_sorted_by_attention_and_filtered(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        rows = rows_of(app, "#assets")
        assert [(r[0], r[1]) for r in rows] == [
            ("raw", "failed"),
            ("report", "overdue"),
            ("clean", "stale"),
            ("regions", "missing"),
        ]
        assert cells_of(app, "#assets")[1]["Freshness"] == "overdue (26h)"
        assert "4 assets: 1 failed · 1 overdue · 1 stale · 1 missing" in text_of(app, "#status")
        await pilot.press("slash", *"+clean", "enter")
        await settle(pilot)
        assert [r[0] for r in rows_of(app, "#assets")] == ["raw", "clean"]
        assert "filter: +clean" in text_of(app, "#status")
        await pilot.press("slash", *"eg", "enter")  # part of a name
        await settle(pilot)
        assert [r[0] for r in rows_of(app, "#assets")] == ["regions"]
        await pilot.press("slash", "ctrl+u", *"tag:nope=", "enter")
        await settle(pilot)
        assert "filter 'tag:nope='" in text_of(app, "#status")
        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        assert len(rows_of(app, "#assets")) == 4


@sync
async def test_a_refresh_in_the_same_order_updates_cells_and_keeps_the_cursor(
    seeded: Project,
) -> None:
    from dataclasses import replace

    from assetflow.tui.assets_screen import AssetsScreen

    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AssetsScreen) and screen.view is not None
        await pilot.press("down")
        first = screen.view.rows[0]
        more = replace(first, counts={**first.counts, "failed": 2})
        screen.show(replace(screen.view, rows=[more, *screen.view.rows[1:]]))
        await settle(pilot)
        assert [r[0] for r in rows_of(app, "#assets")] == ["raw", "report", "clean", "regions"]
        assert cells_of(app, "#assets")[0]["Partitions"] == "2✗ 13█"  # compact under 110 columns
        assert screen.selected_asset() == "report"


@sync
async def test_open_partition_shows_why_attempts_and_logs(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # raw, the first row
        await settle(pilot, 0.3)
        assert isinstance(app.screen, PartitionsScreen)
        assert "13 fresh" in text_of(app, "#status") and "1 failed" in text_of(app, "#status")
        detail = text_of(app, "#detail")
        assert detail.startswith("raw[2024-01-14]  fresh")
        # 2024-01-14 is a Sunday; the Wednesday before it is 2024-01-10, the failed day.
        await pilot.press("up", "up", "up", "up")
        await settle(pilot, 0.3)
        detail = text_of(app, "#detail")
        assert detail.startswith("raw[2024-01-10]  failed")
        assert "ValueError: bad day 2024-01-10" in detail
        assert f"{seed.FAILED_RUN}  #2  failed" in detail
        assert "ERROR   the export of 2024-01-10 is corrupt" in detail
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, PartitionsScreen)


@sync
async def test_failed_run_shows_traceback_and_logs(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        rows = runs_of(app)
        assert [r["Run"] for r in rows] == [seed.FAILED_RUN, seed.FIRST_RUN]
        assert rows[0]["Status"] == "failed" and "3/3 1✗" in rows[0]["Progress"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        steps = rows_of(app, "#steps")
        assert [s[0] for s in steps] == ["raw[2024-01-12]", "raw[2024-01-10]", "clean[2024-01-10]"]
        # The cursor starts on the first failed step: its traceback and logs are shown.
        step = text_of(app, "#step")
        assert "traceback:" in step and "ValueError: bad day 2024-01-10" in step
        assert "#2" in step and "the export of 2024-01-10 is corrupt" in step
        await pilot.press("down")
        await settle(pilot)
        assert "upstream failed: raw[2024-01-10]" in text_of(app, "#step")
        await pilot.press("escape", "1")
        await settle(pilot)
        assert rows_of(app, "#assets")[0][0] == "raw"


@sync
async def test_lineage_tree_with_statuses(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "l")  # clean
        await settle(pilot)
        assert isinstance(app.screen, LineageScreen)
        from textual.widgets import Tree

        tree = app.screen.query_one(Tree)
        labels = [str(line.node.label) for line in tree._tree_lines]
        assert labels[0].startswith("▒ clean  stale")
        assert labels[1] == "▲ upstream (1)" and labels[2].startswith("✗ raw  failed")
        assert labels[3] == "▼ downstream (1)" and "report  overdue" in labels[4]
        await pilot.press("down", "down", "enter")  # re-centre on raw
        await settle(pilot)
        assert str(tree.root.label).startswith("✗ raw  failed")
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PartitionsScreen) and app.screen.asset == "raw"


@sync
async def test_help_and_quit(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help Static").render())
        for line in ("b            Backfill", "/            Filter", "q            Quit"):
            assert line in help_text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@sync
async def test_materialize_needs_confirmation(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Materialize raw" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog) and app.actions == []


@sync
async def test_backfill_form_starts_a_backfill_that_completes(seeded: Project) -> None:
    app = make_app(seeded, refresh=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BackfillDialog)
        await pilot.press("ctrl+u", *"2024-01-99", "enter", "ctrl+u", *"2024-01-03", "enter")
        await pilot.pause()
        assert "2024-01-99" in text_of(app, "#form-error")  # a bad key keeps the form open
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab")
        app.screen.query_one("#from").value = "2024-01-01"  # type: ignore[attr-defined]
        await pilot.click("#start")
        await pilot.pause()
        assert not isinstance(app.screen, BackfillDialog)
        (action,) = app.actions
        assert action.label == "backfill raw 2024-01-01..2024-01-03"
        await pilot.press("2")
        await wait_until(pilot, lambda: not app.actions)
        assert action.process.returncode == 0, action.log.read_text()
        await wait_until(
            pilot,
            lambda: any(r["Kind"] == "backfill" and r["Status"] == "success" for r in runs_of(app)),
        )
        row = next(r for r in runs_of(app) if r["Kind"] == "backfill")
        assert "3/3" in row["Progress"]
        assert action.log.parent == seeded.config.state_path.parent / "ui"


@sync
async def test_rerun_failed_steps_of_a_run(seeded: Project) -> None:
    app = make_app(seeded, refresh=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert f"Re-run the 1 failed step of run {seed.FAILED_RUN}?" == app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.actions)
        await wait_until(pilot, lambda: len(runs_of(app)) == 3)
        newest = runs_of(app)[0]
        assert newest["Status"] == "success" and newest["Selection"] == "raw", newest
    (result,) = [s for s in seeded.status("raw", partition="2024-01-10")]
    assert result.status.value == "fresh"
