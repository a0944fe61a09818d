"""What an asset keeps of its dbt node: inert, frozen records (no dbt objects).

Declarations, so they live with the other definitions; the dbt integration
(:mod:`assetflow.integrations.dbt`) makes them from a project's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The dbt resource types that become assets.
ASSET_RESOURCE_TYPES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class DbtNode:
    """One model, seed or snapshot of a dbt project, as an asset carries it.

    ``database``, ``schema`` and ``identifier`` name the relation dbt builds; ``checksum`` is
    the manifest's checksum of the node's file (the asset's code version); ``tests`` are the
    unique ids of the dbt tests that are checks on it, run in the same ``dbt build``.
    """

    unique_id: str
    resource_type: str
    name: str
    database: str
    schema: str
    identifier: str
    checksum: str
    materialized: str
    tests: tuple[str, ...] = ()
    # The integrations.dbt.project.DbtProject that builds it (typed loosely: that room sits
    # above this one).
    project: Any = field(default=None, compare=False, repr=False)

    @property
    def relation(self) -> str:
        """The node's relation, fully qualified and quoted: ``"db"."schema"."name"``."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in self.parts)

    @property
    def parts(self) -> tuple[str, str, str]:
        return (self.database, self.schema, self.identifier)


@dataclass(frozen=True)
class DbtTest:
    """One dbt test: its node, the asset it checks, and whether a failure blocks downstream."""

    unique_id: str
    name: str
    asset: str
    severity: str  # "error" or "warn"
    description: str = ""
