"""SVG snapshots of every screen (pytest-textual-snapshot), at a fixed moment and size.

Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after a deliberate change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import seed
from pilots import settle
from textual.pilot import Pilot
from textual.widgets import Input

from assetflow import Project
from assetflow.tui.app import AssetflowApp

SCREENS: dict[str, tuple[list[str], tuple[int, int]]] = {
    "assets": ([], (100, 30)),
    "assets_80x24": ([], (80, 24)),
    "assets_120x30": ([], (120, 30)),  # the wide layout (110 columns and more)
    "partitions": (["enter", "up", "up", "up", "up"], (100, 30)),
    "runs": (["2"], (100, 30)),
    "runs_80x24": (["2"], (80, 24)),
    "run_failed": (["2", "enter"], (100, 30)),
    "lineage": (["down", "down", "l"], (100, 30)),
    "backfill_form": (["b"], (100, 30)),
    "help": (["question_mark"], (100, 30)),
}


def keys_then_settle(keys: list[str]) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, 0.25)
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor would make the snapshot flaky
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_snapshot(name: str, seeded: Project, snap_compare: Any) -> None:
    keys, size = SCREENS[name]
    app = AssetflowApp(seeded, now=lambda: seed.NOW, refresh_interval=None)
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle(keys))
