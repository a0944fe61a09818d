"""Keys that move between screens: sections (1, 2), the filter, re-centring the lineage."""

from __future__ import annotations

import seed
from pilots import SlowReads, rows_of, settle, sync, text_of, type_at_once, wait_until
from textual.widgets import Input, Tree

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.assets_screen import AssetsScreen
from assetflow.tui.lineage_screen import LineageScreen
from assetflow.tui.partitions_screen import PartitionsScreen
from assetflow.tui.runs_screen import RunScreen, RunsScreen


def make_app(project: Project) -> AssetflowApp:
    return AssetflowApp(project, now=lambda: seed.NOW, refresh_interval=None)


@sync
async def test_section_keys_go_to_the_list_of_the_section(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "l")  # Assets > Partitions of raw > Lineage
        await settle(pilot)
        assert isinstance(app.screen, LineageScreen)
        await pilot.press("2", "enter")  # Runs > a run
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        await pilot.press("1")
        await settle(pilot)
        assert type(app.screen) is AssetsScreen
        assert rows_of(app, "#assets")[0][0] == "raw"
        await pilot.press("2")
        await settle(pilot)
        assert type(app.screen) is RunsScreen
        await pilot.press("escape")  # nothing left to go back to in the section
        await settle(pilot)
        assert type(app.screen) is RunsScreen
        await pilot.press("1")  # the list again, not the Partitions or Lineage left above
        await settle(pilot)
        assert type(app.screen) is AssetsScreen
        await pilot.press("1")  # already there: stays
        await settle(pilot)
        assert type(app.screen) is AssetsScreen and len(app.screen_stack) == 1


@sync
async def test_keys_typed_while_the_filter_is_open_go_to_the_filter(seeded: Project) -> None:
    """The filter keeps the keyboard until enter or esc: a tab or a click on the table does not
    turn the letters typed next into actions (p partitions, m materialize, l lineage, q quit)."""
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"re", "tab", *"port", "enter")
        await settle(pilot)
        assert type(app.screen) is AssetsScreen and app.actions == []
        assert [r[0] for r in rows_of(app, "#assets")] == ["report"]
        assert "filter: report" in text_of(app, "#status")
        await pilot.press("slash", "ctrl+u")
        await pilot.click("#assets")
        await pilot.press(*"monthly")  # names no asset: the filter says so
        await pilot.press("tab", "shift+tab", *"lq", "enter")
        await settle(pilot)
        assert type(app.screen) is AssetsScreen and app.actions == [] and app.is_running
        assert "filter 'monthlylq'" in text_of(app, "#status")
        # Keys arriving before the focus is back (typed fast, or a busy machine): the same.
        await pilot.press("slash", "ctrl+u")
        screen = app.screen
        screen.set_focus(screen.query_one("#assets"))
        type_at_once(app, "mlqp")
        await settle(pilot)
        assert type(app.screen) is AssetsScreen and app.actions == [] and app.is_running
        assert screen.query_one("#filter", Input).value == "mlqp"
        # esc closes the filter (a second one clears it): keys are actions again.
        await pilot.press("slash", "escape", "escape")
        await settle(pilot)  # every asset again
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LineageScreen)


@sync
async def test_recentring_the_lineage_during_a_refresh_shows_the_new_asset(
    seeded: Project,
) -> None:
    """A refresh still reading the old asset when enter re-centres the tree must not be shown
    under the new asset's name (it was, with the old counts, until the next refresh)."""
    with SlowReads(LineageScreen) as reads:
        app = make_app(seeded)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("down", "down", "l")  # clean
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, LineageScreen)
            assert text_of(app, "#status") == "clean: 1 upstream, 1 downstream"
            reads.hold()
            screen.reload()  # a refresh tick: reads clean, slowly
            await wait_until(pilot, reads.read.is_set)
            await pilot.press("down", "down", "enter")  # re-centre on raw meanwhile
            reads.release()
            await settle(pilot, 0.1)
            await settle(pilot)
            assert text_of(app, "#status") == "raw: 0 upstream, 2 downstream"
            tree = screen.query_one(Tree)
            labels = [str(line.node.label) for line in tree._tree_lines]
            assert labels[:3] == ["✗ raw  failed", "▲ upstream (0)", "▼ downstream (2)"]
            await pilot.press("p")
            await settle(pilot)
            assert isinstance(app.screen, PartitionsScreen) and app.screen.asset == "raw"


@sync
async def test_a_filter_applied_during_a_refresh_is_shown(seeded: Project) -> None:
    """The same for the Assets filter: the refresh that was reading every asset is dropped."""
    with SlowReads(AssetsScreen) as reads:
        app = make_app(seeded)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, AssetsScreen)
            await pilot.press("slash", *"+clean")
            reads.hold()
            screen.reload()  # a refresh tick, slow
            await wait_until(pilot, reads.read.is_set)
            await pilot.press("enter")
            reads.release()
            await settle(pilot, 0.1)
            await settle(pilot)
            assert [r[0] for r in rows_of(app, "#assets")] == ["raw", "clean"]
            assert "filter: +clean" in text_of(app, "#status")
            reads.hold()
            screen.reload()
            await wait_until(pilot, reads.read.is_set)
            await pilot.press("escape")  # clears the filter
            reads.release()
            await settle(pilot, 0.1)
            await settle(pilot)
            assert len(rows_of(app, "#assets")) == 4
