"""The columns of the Assets table for a terminal width, and the cells of one asset.

Every column of the wide layout needs 108 cells; below that the table used to scroll
sideways, and Freshness and Schedule (the last columns) were simply off screen at 80 or 100
columns. Under :data:`WIDE_MIN` the compact layout folds the four counts into one Partitions
column (``1✗ 13█``, the glyphs of the Partitions screen, most urgent first) and leaves out
Took, so that every column fits from 80 columns up.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from assetflow.tui.theme import STYLES, styled
from assetflow.views.assets import AssetRow
from assetflow.views.format import ATTENTION, GLYPHS, ago, duration

Columns = tuple[tuple[str, int], ...]

PADDING = 2  # a DataTable column is drawn one cell wider on each side
SCROLLBAR = 2  # kept free for the vertical scrollbar of a long list

WIDE: Columns = (
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
)
COMPACT: Columns = (
    ("Asset", 18),
    ("State", 7),
    ("Partitions", 14),
    ("Last", 4),
    ("Freshness", 13),
    ("Schedule", 10),
)
MIN_WIDTH = 80  # the narrowest terminal the UI is made for


def needed(columns: Columns) -> int:
    """The terminal width the columns take, scrollbar included."""
    return sum(width + PADDING for _, width in columns) + SCROLLBAR


WIDE_MIN = needed(WIDE)
# Where the room left over goes, in turn, and up to which width: longer names first, then
# longer counts, then the schedule (names of schedules can be long) takes the rest.
GROWTH = (("Asset", 28), ("Partitions", 20), ("Schedule", 10_000))


def columns_for(width: int) -> Columns:
    """The columns for a terminal ``width``: the wide layout when it fits, else the compact
    one; the room left over widens Asset, Partitions and Schedule (see :data:`GROWTH`)."""
    layout = WIDE if width >= WIDE_MIN else COMPACT
    spare = max(0, width - needed(layout))
    sizes = dict(layout)
    for label, most in GROWTH:
        if label in sizes:
            grow = min(spare, max(0, most - sizes[label]))
            sizes[label] += grow
            spare -= grow
    return tuple((label, sizes[label]) for label, _ in layout)


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
