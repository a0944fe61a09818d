"""The dialogs: centred on the screen, and a backfill form that never guesses the range."""

from __future__ import annotations

import pytest
import seed
from pilots import settle, sync, text_of

from assetflow import Project
from assetflow.tui.app import AssetflowApp
from assetflow.tui.dialogs import BackfillDialog, ConfirmDialog, HelpScreen


def make_app(project: Project) -> AssetflowApp:
    return AssetflowApp(project, now=lambda: seed.NOW, refresh_interval=None)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize(
    ("keys", "dialog", "box"),
    [
        (["m"], ConfirmDialog, "#dialog"),
        (["b"], BackfillDialog, "#dialog"),
        (["question_mark"], HelpScreen, "#help"),
        (["2", "r"], ConfirmDialog, "#dialog"),  # re-run failed steps, from the Runs screen
    ],
)
def test_dialogs_are_centred(
    seeded: Project, keys: list[str], dialog: type, box: str, size: tuple[int, int]
) -> None:
    @sync
    async def run() -> None:
        app = make_app(seeded)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            assert isinstance(app.screen, dialog)
            region = app.screen.query_one(box).region
            width, height = size
            left, right = region.x, width - region.right
            top, bottom = region.y, height - region.bottom
            assert abs(left - right) <= 1 and abs(top - bottom) <= 1, (region, size)

    run()


@sync
async def test_backfill_form_refuses_empty_bounds_and_starts_empty(seeded: Project) -> None:
    app = make_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("b")  # raw: 2024-01-01 .. 2024-01-14
        await settle(pilot)
        assert isinstance(app.screen, BackfillDialog)
        # enter twice must not backfill the whole range: the form starts empty (the range is
        # shown as placeholders) and refuses empty bounds with a message in the form.
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BackfillDialog) and app.actions == []
        assert "From is empty" in text_of(app, "#form-error")
        assert "2024-01-01" in app.screen.query_one("#from").placeholder  # type: ignore[attr-defined]
        assert "2024-01-14" in app.screen.query_one("#to").placeholder  # type: ignore[attr-defined]
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab")  # back to From
        app.screen.query_one("#from").focus()
        await pilot.press(*"2024-01-03", "enter")
        await pilot.press("ctrl+u", "enter")  # To emptied
        await settle(pilot)
        assert isinstance(app.screen, BackfillDialog) and app.actions == []
        assert "To is empty" in text_of(app, "#form-error")
        await pilot.press(*"2024-01-04", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, BackfillDialog)
        (action,) = app.actions
        assert action.label == "backfill raw 2024-01-03..2024-01-04"
        action.process.wait(60)
