"""The Textual application: modes (Assets, Runs), live refresh, actions, help."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from assetflow.application.project import Project
from assetflow.records import utcnow
from assetflow.tui import actions
from assetflow.tui.assets_screen import AssetsScreen
from assetflow.tui.base import DataScreen
from assetflow.tui.runs_screen import RunsScreen

CSS = """
#title { background: $primary; color: $text; height: 1; padding: 0 1; text-style: bold; }
#status { height: 1; padding: 0 1; color: $text-muted; }
#status.error { color: $error; }
#legend { height: 1; padding: 0 1; }
DataTable { height: 1fr; }
#filter { dock: bottom; display: none; margin-bottom: 1; }
#filter.shown { display: block; }
#grid-box { height: 1fr; min-height: 5; border-bottom: solid $primary; }
#detail-box, #step-box { height: 1fr; padding: 0 1; }
#preview-box { height: auto; max-height: 9; padding: 0 1; border-top: solid $primary; }
#steps { height: 1fr; border-bottom: solid $primary; }
Tree { height: 1fr; }
"""


class AssetflowApp(App[None]):
    """``assetflow ui``: ``now`` and ``refresh_interval`` are injectable for tests (a fixed
    clock makes snapshots stable; ``None`` turns the live refresh off)."""

    TITLE = "assetflow"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "assets": AssetsScreen,
        "runs": RunsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("1", "section('assets')", "Assets"),
        Binding("2", "section('runs')", "Runs"),
    ]

    def __init__(
        self,
        project: Project,
        *,
        now: Callable[[], datetime] | None = None,
        refresh_interval: float | None = 1.5,
    ) -> None:
        super().__init__()
        self.project = project
        self._now = now
        self.refresh_interval = refresh_interval
        self.actions: list[actions.Action] = []

    def now(self) -> datetime:
        """The moment views are computed at (fixed in tests)."""
        return self._now() if self._now is not None else utcnow()

    def on_mount(self) -> None:
        self.switch_mode("assets")
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.tick)

    def tick(self) -> None:
        """Refresh the screen on top, and report actions that finished."""
        self.poll_actions()
        screen = self.screen
        if isinstance(screen, DataScreen):
            screen.reload()

    def poll_actions(self) -> None:
        for action in list(self.actions):
            if action.poll() is None:
                continue
            self.actions.remove(action)
            ok = action.process.returncode == 0
            self.notify(action.outcome(), severity="information" if ok else "error", timeout=8)

    def start_action(self, args: list[str], label: str) -> actions.Action:
        """Start ``assetflow ARGS`` as a child process (see :mod:`assetflow.tui.actions`)."""
        config = self.project.config
        action = actions.start(config.root, config.state_path.parent, args, label, utcnow())
        self.actions.append(action)
        self.notify(f"started: {label} (progress in Runs, key 2)", timeout=5)
        return action

    def action_section(self, mode: str) -> None:
        """Show the list of a section (Assets or Runs) rather than the screen last left open
        in it: each mode keeps its own stack, and ``1`` is "the assets", not "where I was"."""
        self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            self.pop_screen()  # a dialog left open there is cancelled (its callback never runs)

    def action_help(self) -> None:
        from assetflow.tui.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
