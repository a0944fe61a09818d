"""The first rows a partition holds, as lines for the UI's preview pane (headless: read with
:meth:`~assetflow.application.project.Project.show`, formatted by :mod:`assetflow.views.data`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.errors import AssetflowError
from assetflow.views.data import preview_rows, text_table

if TYPE_CHECKING:
    from assetflow.application.project import Project

__all__ = ["PREVIEW_ROWS", "PREVIEW_WIDTH", "preview_lines"]

PREVIEW_ROWS = 5
PREVIEW_WIDTH = 24  # characters per cell: several columns fit beside each other


def preview_lines(project: Project, asset: str, key: str, limit: int = PREVIEW_ROWS) -> list[str]:
    """``data: first N of M row(s)`` and a small table of them; or one line saying why there
    is nothing to show (never materialized, not stored, data gone or locked)."""
    definition = project.asset(asset)
    if definition.io == "none" and not definition.is_source:
        return ['data: not stored (io = "none")']
    partitioned = definition.partitions.kind != "none"
    try:
        shown = project.show(asset, key if partitioned else None, limit=limit)
    except AssetflowError as exc:
        return [f"data: {exc}"]
    if not shown.columns:
        return ["data: no columns"]
    names = [name for name, _ in shown.columns]
    head = (
        f"data: first {len(shown.rows)} of {shown.total} row(s)" if shown.rows else "data: 0 rows"
    )
    table = text_table(names, preview_rows(shown.rows, PREVIEW_WIDTH))
    return [head, *("  " + line for line in table)]
