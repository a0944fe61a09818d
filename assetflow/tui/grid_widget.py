"""The partition grid: cells coloured by status, a cursor moved with the arrow keys."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.widget import Widget

from assetflow.tui.theme import STYLES
from assetflow.views.format import GLYPHS
from assetflow.views.grid import Grid


class PartitionGrid(Widget, can_focus=True):
    """Renders a :class:`~assetflow.views.grid.Grid`; posts :class:`Moved` on cursor moves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1, 0)", "←", show=False),
        Binding("right", "move(1, 0)", "→", show=False),
        Binding("up,k", "move(0, -1)", "↑", show=False),
        Binding("down,j", "move(0, 1)", "↓", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]

    class Moved(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid = Grid(())
        self.cursor: tuple[int, int] | None = None

    def set_grid(self, grid: Grid) -> None:
        """Show ``grid``, keeping the cursor on the same partition if it is still there."""
        key = self.cursor_key
        self.grid = grid
        found = grid.find(key) if key is not None else None
        # Start on the latest partition: the one most likely to matter.
        self.cursor = found or (grid.find(grid.last) if grid.last is not None else None)
        width = (
            grid.label_width
            + 1
            + max((len(ln.cells) for ln in grid.lines), default=0) * grid.cell_width
        )
        width = max(
            width,
            max((grid.label_width + 1 + len(ln.header or "") for ln in grid.lines), default=0),
        )
        self.styles.width = width
        self.styles.height = max(1, len(grid.lines))
        self.refresh(layout=True)
        if self.cursor is not None:
            if key is None or found is None:
                self.post_message(self.Moved(self.cursor_key or ""))
            self.call_after_refresh(self._scroll_to_cursor)

    @property
    def cursor_key(self) -> str | None:
        if self.cursor is None:
            return None
        y, x = self.cursor
        if y >= len(self.grid.lines) or x >= len(self.grid.lines[y].cells):
            return None
        cell = self.grid.lines[y].cells[x]
        return None if cell is None else cell.key

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return int(self.styles.width.value) if self.styles.width else 1

    def render(self) -> Text:
        grid = self.grid
        out = Text(no_wrap=True, overflow="ignore")
        pad = " " * (grid.cell_width - 1)
        for y, line in enumerate(grid.lines):
            out.append(line.label.ljust(grid.label_width)[: grid.label_width] + " ", style="dim")
            if line.header is not None:
                out.append(line.header, style="dim")
            for x, cell in enumerate(line.cells):
                if cell is None:
                    out.append(" " * grid.cell_width)
                    continue
                style = STYLES.get(cell.status, "")
                if self.cursor == (y, x):
                    style += " reverse"
                out.append(GLYPHS.get(cell.status, "?") * max(1, grid.cell_width - 1), style=style)
                if pad:
                    out.append(" ")
            if y < len(grid.lines) - 1:
                out.append("\n")
        return out

    def action_move(self, dx: int, dy: int) -> None:
        if self.cursor is None:
            return
        y, x = self.cursor
        lines = self.grid.lines
        if dx:
            cells = lines[y].cells
            nx = x + dx
            while 0 <= nx < len(cells) and cells[nx] is None:
                nx += dx
            if 0 <= nx < len(cells):
                self._go((y, nx))
            return
        ny = y + dy
        while 0 <= ny < len(lines):
            cells = lines[ny].cells
            near = [i for i, cell in enumerate(cells) if cell is not None]
            if near:
                self._go((ny, min(near, key=lambda i: (abs(i - x), i))))
                return
            ny += dy

    def action_edge(self, direction: int) -> None:
        key = self.grid.first if direction < 0 else self.grid.last
        position = self.grid.find(key) if key is not None else None
        if position is not None:
            self._go(position)

    def _go(self, position: tuple[int, int]) -> None:
        self.cursor = position
        self.refresh()
        self._scroll_to_cursor()
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Moved(key))

    def _scroll_to_cursor(self) -> None:
        if self.cursor is None or self.parent is None:
            return
        y, x = self.cursor
        column = self.grid.label_width + 1 + x * self.grid.cell_width
        region = Region(column, y, self.grid.cell_width, 1)
        parent = self.parent
        if isinstance(parent, Widget):
            parent.scroll_to_region(region, animate=False, spacing=None)
