"""Headless view models of the terminal UI: plain data built from :class:`~assetflow.Project`.

Each ``load_*`` function reads what one screen shows at an injectable ``now``, so that the
screens (in :mod:`assetflow.tui`, the only place that imports textual) only render, and the
views are tested and snapshotted without a clock drifting under them.
"""

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
