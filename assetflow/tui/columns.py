"""Table columns that fit the terminal width, and the cells of the Assets table.

The wide layouts need 110 (Assets) and 124 (Runs) columns; below that the tables used to
scroll sideways, and their last columns (Freshness and Schedule; Took and Selection) were
simply off screen at 80 or 100 columns. Under that width a compact layout is used: the Assets
table folds the four counts into one Partitions column (``1✗ 13█``, the glyphs of the
Partitions screen, most urgent first) and leaves out Took; the Runs table shows the kind with
the selection and leaves out Started (the run ID is its start time) and Took. Every column
then fits from 80 columns up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from assetflow.tui.theme import STYLES, styled
from assetflow.views.assets import AssetRow
from assetflow.views.format import ATTENTION, GLYPHS, ago, duration

Columns = tuple[tuple[str, int], ...]

PADDING = 2  # a DataTable column is drawn one cell wider on each side
SCROLLBAR = 2  # kept free for the vertical scrollbar of a long list
MIN_WIDTH = 80  # the narrowest terminal the UI is made for


def needed(columns: Columns) -> int:
    """The terminal width the columns take, scrollbar included."""
    return sum(width + PADDING for _, width in columns) + SCROLLBAR


@dataclass(frozen=True)
class Layout:
    """A table's wide and compact columns, and where the room left over goes: to each column
    of ``growth`` in turn, up to the width given (the last one takes the rest)."""

    wide: Columns
    compact: Columns
    growth: tuple[tuple[str, int], ...]

    def columns_for(self, width: int) -> Columns:
        """The columns for a terminal ``width``: the wide ones when they fit."""
        layout = self.wide if width >= needed(self.wide) else self.compact
        spare = max(0, width - needed(layout))
        sizes = dict(layout)
        for label, most in self.growth:
            if label in sizes:
                grow = min(spare, max(0, most - sizes[label]))
                sizes[label] += grow
                spare -= grow
        return tuple((label, sizes[label]) for label, _ in layout)


ASSETS = Layout(
    wide=(
        ("Asset", 22),
        ("State", 8),
        ("Fresh", 5),
        ("Stale", 5),
        ("Miss", 5),
        ("Fail", 4),
        ("Last", 8),
        ("Took", 6),
        ("Freshness", 13),
        ("Schedule", 12),
    ),
    compact=(
        ("Asset", 18),
        ("State", 7),
        ("Partitions", 14),
        ("Last", 4),
        ("Freshness", 13),
        ("Schedule", 10),
    ),
    # Longer names first, then longer counts; schedules (their names can be long) the rest.
    growth=(("Asset", 28), ("Partitions", 20), ("Schedule", 10_000)),
)
RUNS = Layout(
    wide=(
        ("Run", 22),
        ("Kind", 11),
        ("Status", 9),
        ("Progress", 22),
        ("Started", 8),
        ("Took", 6),
        ("Selection", 30),
    ),
    compact=(("Run", 22), ("Status", 9), ("Progress", 15), ("Kind · selection", 20)),
    # What ran first (``materialize daily_revenue``), then a longer bar, then the rest to it.
    growth=(
        ("Kind · selection", 32),
        ("Progress", 22),
        ("Kind · selection", 10_000),
        ("Selection", 10_000),
    ),
)

# One run's steps: the same columns at every width, the note (why a step was skipped or
# failed, in full in the pane below) takes the width there is.
STEPS = Layout(
    wide=(("Step", 32), ("Status", 8), ("Tries", 5), ("Took", 6), ("Note", 12)),
    compact=(("Step", 32), ("Status", 8), ("Tries", 5), ("Took", 6), ("Note", 12)),
    growth=(("Note", 10_000),),
)


def bar_width(column: int) -> int:
    """The progress bar's width in a Progress column: room is left for `` 31/31 1✗``."""
    return max(4, min(10, column - 12))


def columns_for(width: int) -> Columns:
    """The columns of the Assets table for a terminal ``width``."""
    return ASSETS.columns_for(width)


def cells(row: AssetRow, now: datetime) -> dict[str, str | Text]:
    """Every cell an asset can show, by column label (each layout picks its own)."""
    counts = row.counts
    worst = row.worst

    def count(state: str) -> Text:
        n = counts.get(state, 0)
        style = "" if not n or state == "fresh" else STYLES.get(state, "")
        return Text(str(n), style=style, justify="right")

    partitions = Text()
    for state in ATTENTION:
        if counts.get(state, 0) and state in GLYPHS:
            if partitions:
                partitions.append(" ")
            partitions.append(f"{counts[state]}{GLYPHS[state]}", style=STYLES.get(state, ""))
    freshness = styled(row.freshness, "overdue") if row.overdue else Text(row.freshness or "-")
    return {
        "Asset": styled(row.name, worst),
        "State": styled(worst, worst),
        "Fresh": Text(str(counts.get("fresh", 0)), justify="right"),
        "Stale": count("stale"),
        "Miss": count("missing"),
        "Fail": count("failed"),
        "Partitions": partitions or Text("-"),
        "Last": Text(ago(now, row.last_materialized_at).replace(" ago", "")),
        "Took": Text(duration(row.typical_duration_s), justify="right"),
        "Freshness": freshness,
        "Schedule": Text(row.schedule or "-"),
    }
