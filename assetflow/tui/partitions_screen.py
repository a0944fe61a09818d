"""The Partitions screen: one asset's partitions as a calendar-like grid, and the detail of
the partition under the cursor (status, why, attempts, logs)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, VerticalScroll
from textual.timer import Timer
from textual.widgets import Static

from assetflow.tui.base import DataScreen
from assetflow.tui.grid_widget import PartitionGrid
from assetflow.tui.theme import STYLES, legend
from assetflow.views.partitions import (
    PartitionDetail,
    PartitionsView,
    load_partition,
    load_partitions,
)

# The detail is read once the cursor rests this long (holding an arrow key reads nothing).
DETAIL_DELAY_S = 0.15


class PartitionsScreen(DataScreen):
    TITLE_TEXT = "Partitions"
    HELP_TEXT = (
        "Move with the arrow keys (or h j k l); home and end jump to the first and last "
        "partition. The pane below shows the partition's status, why it is not fresh, its "
        "last attempts and its captured logs; the bottom pane its first rows (as "
        "`assetflow show` prints them)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "materialize", "Materialize"),
        Binding("l", "lineage", "Lineage"),
    ]

    def __init__(self, asset: str) -> None:
        super().__init__()
        self.asset = asset
        self.detail: PartitionDetail | None = None
        self._detail_timer: Timer | None = None

    def title_text(self) -> str:
        return f"{super().title_text()} · {self.asset}"

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static(legend(), id="legend")
        with ScrollableContainer(id="grid-box"):
            yield PartitionGrid(id="grid")
        with VerticalScroll(id="detail-box"):
            yield Static("", id="detail", markup=False)
        with ScrollableContainer(id="preview-box"):
            yield Static("", id="preview", markup=False)
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(PartitionGrid).focus()

    def load(self) -> tuple[PartitionsView, PartitionDetail | None]:
        now = self.af.now()
        view = load_partitions(self.af.project, self.asset, now)
        first = None
        if self.detail is None and view.grid.last is not None:
            # The cursor starts on the last partition: read its detail in the same worker
            # rather than after the grid is shown, a timer and another worker later.
            first = load_partition(self.af.project, self.asset, view.grid.last, now)
        return view, first

    def show(self, data: tuple[PartitionsView, PartitionDetail | None]) -> None:
        view, first = data
        counts = " · ".join(f"{n} {state}" for state, n in sorted(view.counts.items()))
        self.set_status(f"{view.description}  │  {counts}")
        grid = self.query_one(PartitionGrid)
        refresh = self.detail is not None
        grid.set_grid(view.grid)
        if first is not None:
            self._show_detail(first)
        key = grid.cursor_key
        if refresh and key is not None and self.detail is not None and self.detail.key == key:
            self._load_detail(key)  # a refresh: the partition under the cursor may have changed

    def on_partition_grid_moved(self, message: PartitionGrid.Moved) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        key = message.key
        if self.detail is not None and self.detail.key == key:
            return  # already shown (read with the grid)
        self._detail_timer = self.set_timer(DETAIL_DELAY_S, lambda: self._load_detail(key))

    def _load_detail(self, key: str) -> None:
        def fetch() -> None:
            try:
                detail = load_partition(self.af.project, self.asset, key, self.af.now())
            except Exception as exc:
                self.app.call_from_thread(self._show_detail_error, key, exc)
                return
            self.app.call_from_thread(self._show_detail, detail)

        self.run_worker(fetch, thread=True, group="detail", exit_on_error=False)

    def _show_detail(self, detail: PartitionDetail) -> None:
        if detail.key != self.query_one(PartitionGrid).cursor_key:
            return  # the cursor moved on
        self.detail = detail
        lines = detail.lines(self.af.now())
        text = Text("\n".join(lines))
        first = lines[0]
        at = first.index(detail.status, len(detail.asset) + len(detail.key) + 2)
        text.stylize(STYLES.get(detail.status, ""), at, at + len(detail.status))
        text.stylize("bold", 0, len(detail.asset) + len(detail.key) + 2)
        self.query_one("#detail", Static).update(text)
        self.query_one("#preview", Static).update("\n".join(detail.preview))

    def _show_detail_error(self, key: str, exc: Exception) -> None:
        self.query_one("#detail", Static).update(f"{self.asset}[{key}]: cannot read: {exc}")

    def selected_key(self) -> str | None:
        return self.query_one(PartitionGrid).cursor_key

    def action_materialize(self) -> None:
        from assetflow.tui.dialogs import ConfirmDialog

        key = self.selected_key()
        if key is None:
            return
        partitioned = self.af.project.asset(self.asset).partitions.kind != "none"
        args = ["materialize", self.asset] + (["--partition", key] if partitioned else [])
        label = f"materialize {self.asset}" + (f"[{key}]" if partitioned else "")
        question = (
            f"Materialize {self.asset}[{key}] (and what it needs upstream that is not fresh)?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.af.start_action(args, label)

        self.app.push_screen(ConfirmDialog(question), answered)

    def action_lineage(self) -> None:
        from assetflow.tui.lineage_screen import LineageScreen

        self.app.push_screen(LineageScreen(self.asset))

    def loaded_detail(self) -> Any:
        return self.detail
