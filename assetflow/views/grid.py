"""Calendar-like layouts of an asset's partitions (pure: keys and statuses in, lines out).

- daily: one block per year, a column per week and a row per weekday (Mon..Sun), months named
  above the weeks they start in;
- weekly: a row per year, a column per week; monthly: a row per year, a column per month;
- hourly: a row per day, a column per hour;
- static: a row per key; multi: a 2-D grid, the time (or first) dimension down, the rest across;
- unpartitioned: one cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from assetflow.partitions.core import MultiPartitions, PartitionsDefinition, TimeWindowPartitions

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Cell:
    """One partition in the grid."""

    key: str
    status: str


@dataclass(frozen=True)
class GridLine:
    """A row of cells (``None`` where no partition sits) or, with ``header``, a text line."""

    label: str
    cells: tuple[Cell | None, ...] = ()
    header: str | None = None


@dataclass(frozen=True)
class Grid:
    """The lines of a grid, the width of each cell and of the row labels."""

    lines: tuple[GridLine, ...]
    cell_width: int = 1
    label_width: int = 4
    first: str | None = None  # the first and last keys in definition order
    last: str | None = None

    def positions(self) -> list[tuple[int, int]]:
        """Every (line, column) holding a cell, top to bottom, left to right."""
        return [
            (y, x)
            for y, line in enumerate(self.lines)
            for x, cell in enumerate(line.cells)
            if cell is not None
        ]

    def find(self, key: str) -> tuple[int, int] | None:
        for y, x in self.positions():
            cell = self.lines[y].cells[x]
            if cell is not None and cell.key == key:
                return y, x
        return None


def build_grid(
    definition: PartitionsDefinition, keys: Sequence[str], statuses: Mapping[str, str]
) -> Grid:
    """The grid of ``keys`` (in definition order) coloured by ``statuses`` (missing if absent)."""
    grid = _layout(definition, [Cell(key, statuses.get(key, "missing")) for key in keys])
    return replace(grid, first=keys[0] if keys else None, last=keys[-1] if keys else None)


def _layout(definition: PartitionsDefinition, cells: list[Cell]) -> Grid:
    kind = definition.kind
    if kind == "daily":
        return _daily(cells)
    if kind == "weekly":
        return _by_year(cells, lambda d: (d - _first_monday(d.year)).days // 7, 53, 1, None)
    if kind == "monthly":
        header = "".join(m[0] + "  " for m in MONTHS)
        return _by_year(cells, lambda d: d.month - 1, 12, 3, header)
    if kind == "hourly" and isinstance(definition, TimeWindowPartitions):
        return _hourly(definition, cells)
    if isinstance(definition, MultiPartitions):
        return _multi(definition, cells)
    if kind == "static":
        width = min(24, max((len(c.key) for c in cells), default=1))
        lines = tuple(GridLine(c.key[:width], (c,)) for c in cells)
        return Grid(lines, 2, width)
    return Grid(tuple(GridLine("-", (cell,)) for cell in cells), 2, 1)


def _daily(cells: list[Cell]) -> Grid:
    lines: list[GridLine] = []
    by_year: dict[int, list[tuple[date, Cell]]] = {}
    for cell in cells:
        day = date.fromisoformat(cell.key[:10])
        by_year.setdefault(day.year, []).append((day, cell))
    for year, days in by_year.items():
        origin = _monday_on_or_before(date(year, 1, 1))
        weeks = (_monday_on_or_before(date(year, 12, 31)) - origin).days // 7 + 1
        rows: list[list[Cell | None]] = [[None] * weeks for _ in WEEKDAYS]
        for day, cell in days:
            rows[day.weekday()][(day - origin).days // 7] = cell
        header = [" "] * (weeks + 3)
        for month in range(1, 13):
            column = (date(year, month, 1) - origin).days // 7
            # A month's name starts above the first week holding its 1st, if there is room.
            if all(c == " " for c in header[column : column + 4]):
                header[column : column + 3] = MONTHS[month - 1]
        if lines:
            lines.append(GridLine("", header=""))
        lines.append(GridLine(str(year), header="".join(header).rstrip()))
        lines.extend(GridLine(WEEKDAYS[i], tuple(row)) for i, row in enumerate(rows))
    return Grid(tuple(lines), 1, 4)


def _by_year(
    cells: list[Cell],
    column_of: Callable[[date], int],
    columns: int,
    width: int,
    header: str | None,
) -> Grid:
    rows: dict[int, list[Cell | None]] = {}
    for cell in cells:
        day = date.fromisoformat(cell.key[:10] if len(cell.key) >= 10 else cell.key + "-01")
        row = rows.setdefault(day.year, [None] * columns)
        row[min(columns - 1, column_of(day))] = cell
    lines: list[GridLine] = [GridLine("", header=header)] if header else []
    lines.extend(GridLine(str(year), tuple(row)) for year, row in rows.items())
    return Grid(tuple(lines), width, 4)


def _hourly(definition: TimeWindowPartitions, cells: list[Cell]) -> Grid:
    rows: dict[str, list[Cell | None]] = {}
    for cell in cells:
        start: datetime = definition.time_window(cell.key)[0]
        row = rows.setdefault(start.date().isoformat(), [None] * 24)
        if row[start.hour] is None:
            row[start.hour] = cell
        else:  # the repeated hour when clocks go back
            row.append(cell)
    header = "".join(f"{hour:02d}" + " " * 10 for hour in range(0, 24, 6)).rstrip()
    lines = [GridLine("", header=header)]
    lines.extend(GridLine(day, tuple(row)) for day, row in rows.items())
    return Grid(tuple(lines), 2, 10)


def _multi(definition: MultiPartitions, cells: list[Cell]) -> Grid:
    names = definition.names
    time = definition.time_dimension
    down = names.index(time[0]) if time else 0
    rows: dict[str, dict[str, Cell]] = {}
    across: dict[str, None] = {}
    for cell in cells:
        parts = cell.key.split("|")
        column = "|".join(p for i, p in enumerate(parts) if i != down)
        rows.setdefault(parts[down], {})[column] = cell
        across[column] = None
    columns = list(across)
    width = max(2, min(8, max((len(c) for c in columns), default=1) + 1))
    header = "".join(c[: width - 1].ljust(width) for c in columns).rstrip()
    label_width = min(24, max((len(r) for r in rows), default=1))
    lines = [GridLine("", header=header)]
    lines.extend(
        GridLine(row[:label_width], tuple(found.get(c) for c in columns))
        for row, found in rows.items()
    )
    return Grid(tuple(lines), width, label_width)


def _monday_on_or_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


def _first_monday(year: int) -> date:
    first = date(year, 1, 1)
    return date.fromordinal(first.toordinal() + (7 - first.weekday()) % 7)
