"""Text for times, durations and statuses, shared by the views (pure, no clock of its own)."""

from __future__ import annotations

from datetime import datetime, timedelta

from assetflow.records import PartitionStatus

# Most urgent first: the order the Assets screen sorts by and the "worst" status of an asset.
ATTENTION = ("failed", "overdue", "running", "stale", "missing", "waiting", "fresh")

# One glyph per status, so that the grid still reads without colour (NO_COLOR).
GLYPHS = {
    PartitionStatus.FRESH.value: "█",
    PartitionStatus.STALE.value: "▒",
    PartitionStatus.MISSING.value: "░",
    PartitionStatus.FAILED.value: "✗",
    PartitionStatus.RUNNING.value: "▸",
    PartitionStatus.WAITING.value: "·",
}


def ago(now: datetime, at: datetime | None) -> str:
    """``"42s ago"``, ``"5m ago"``, ``"3h ago"``, ``"12d ago"``; ``"-"`` for never."""
    if at is None:
        return "-"
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def duration(seconds: float | None) -> str:
    """``"0.4s"``, ``"12s"``, ``"3m05s"``, ``"2h01m"``; ``"-"`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def stamp(at: datetime | None) -> str:
    """An absolute UTC time, ``2024-01-31 13:05:01``; ``"-"`` for none."""
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """``"██████░░░░"``: ``done`` of ``total`` in ``width`` cells."""
    if total <= 0:
        return "░" * width
    filled = min(width, round(width * done / total))
    return "█" * filled + "░" * (width - filled)


def freshness_text(max_lag: timedelta | None, overdue: bool) -> str:
    """``"ok (26h)"`` or ``"overdue (3d)"`` for an asset with a freshness policy; ``""``
    without one. The Assets screen and ``assetflow status`` both show this."""
    if max_lag is None:
        return ""
    hours = max_lag.total_seconds() / 3600
    lag = f"{hours:g}h" if hours < 48 else f"{hours / 24:g}d"
    return f"{'overdue' if overdue else 'ok'} ({lag})"
