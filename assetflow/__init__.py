"""assetflow: an asset-centric data orchestrator as light as a library.

Declare data assets with :func:`asset` (or in ``assets.toml``), and load the project with
:meth:`Project.load` to list, plan and materialize them. Heavy parts (the project loader, with
pydantic and networkx) are imported on first use, so ``import assetflow`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assetflow.definitions.assets import AssetDef, AssetDep, asset
from assetflow.definitions.checks import CheckResult, check
from assetflow.definitions.context import Context, Output
from assetflow.definitions.policies import FreshnessPolicy, RetryPolicy
from assetflow.definitions.sources import source
from assetflow.errors import (
    AssetflowError,
    ConfigError,
    DefinitionError,
    GraphError,
    PartitionError,
    ProjectLoadError,
    SelectionError,
)
from assetflow.mappings.core import (
    AllPartitionsMapping,
    IdentityMapping,
    LastPartitionMapping,
    MultiMapping,
    PartitionMapping,
    StaticMapping,
    TimeWindowMapping,
)
from assetflow.partitions.core import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    WeeklyPartitions,
)

if TYPE_CHECKING:
    from assetflow.application.project import Project
    from assetflow.graph.asset_graph import AssetGraph

__version__ = "0.1.0"

__all__ = [
    "AllPartitionsMapping",
    "AssetDef",
    "AssetDep",
    "AssetGraph",
    "AssetflowError",
    "CheckResult",
    "ConfigError",
    "Context",
    "DailyPartitions",
    "DefinitionError",
    "FreshnessPolicy",
    "GraphError",
    "HourlyPartitions",
    "IdentityMapping",
    "LastPartitionMapping",
    "MonthlyPartitions",
    "MultiMapping",
    "MultiPartitions",
    "Output",
    "PartitionError",
    "PartitionMapping",
    "PartitionsDefinition",
    "Project",
    "ProjectLoadError",
    "RetryPolicy",
    "SelectionError",
    "StaticMapping",
    "StaticPartitions",
    "TimeWindowMapping",
    "WeeklyPartitions",
    "__version__",
    "asset",
    "check",
    "source",
]


def __getattr__(name: str) -> Any:
    # Project and AssetGraph pull in pydantic and networkx: load them on first use only.
    if name == "Project":
        from assetflow.application.project import Project

        return Project
    if name == "AssetGraph":
        from assetflow.graph.asset_graph import AssetGraph

        return AssetGraph
    raise AttributeError(f"module 'assetflow' has no attribute {name!r}")
