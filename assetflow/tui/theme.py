"""Colours and glyphs of statuses, shared by every screen."""

from __future__ import annotations

from rich.text import Text

from assetflow.views.format import GLYPHS

STYLES = {
    "fresh": "green",
    "stale": "yellow",
    "missing": "grey62",
    "waiting": "blue",
    "failed": "bold red",
    "overdue": "bold red",
    "running": "bold cyan",
    "pending": "grey62",
    "success": "green",
    "skipped": "grey62",
    "cancelled": "yellow",
    "crashed": "bold red",
}


def styled(text: str, state: str) -> Text:
    """``text`` in the colour of ``state``."""
    return Text(text, style=STYLES.get(state, ""))


def legend() -> Text:
    """``█ fresh  ▒ stale  ░ missing  ✗ failed  ▸ running``, each in its colour."""
    out = Text()
    for state, glyph in GLYPHS.items():
        out.append(f"{glyph} {state}", style=STYLES[state])
        out.append("  ")
    return out
