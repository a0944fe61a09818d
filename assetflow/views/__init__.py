"""Headless view models of the terminal UI: plain data built from :class:`~assetflow.Project`.

Each ``load_*`` function reads what one screen shows at an injectable ``now``, so that the
screens (in :mod:`assetflow.tui`, the only place that imports textual) only render, and the
views are tested and snapshotted without a clock drifting under them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.views.assets import AssetRow, AssetsView, Summary, load_assets
    from assetflow.views.grid import Cell, Grid, GridLine, build_grid
    from assetflow.views.lineage import LineageNode, LineageView, load_lineage
    from assetflow.views.partitions import (
        PartitionDetail,
        PartitionsView,
        load_partition,
        load_partitions,
    )
    from assetflow.views.runs import RunDetail, RunRow, RunsView, Step, load_run, load_runs

# Imported on first use (PEP 562): ``assetflow.views.format`` alone, which the CLI's status
# uses, must not import every screen's view model (~0.02 s of a read command's start-up).
_MODULE_OF = {
    name: module
    for module, names in {
        "assets": ("AssetRow", "AssetsView", "Summary", "load_assets"),
        "grid": ("Cell", "Grid", "GridLine", "build_grid"),
        "lineage": ("LineageNode", "LineageView", "load_lineage"),
        "partitions": ("PartitionDetail", "PartitionsView", "load_partition", "load_partitions"),
        "runs": ("RunDetail", "RunRow", "RunsView", "Step", "load_run", "load_runs"),
    }.items()
    for name in names
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'assetflow.views' has no attribute {name!r}")
    return getattr(import_module(f"assetflow.views.{module}"), name)


__all__ = [
    "AssetRow",
    "AssetsView",
    "Cell",
    "Grid",
    "GridLine",
    "LineageNode",
    "LineageView",
    "PartitionDetail",
    "PartitionsView",
    "RunDetail",
    "RunRow",
    "RunsView",
    "Step",
    "Summary",
    "build_grid",
    "load_assets",
    "load_lineage",
    "load_partition",
    "load_partitions",
    "load_run",
    "load_runs",
]
