"""`Project`: the one facade the CLI, the TUI and Python users call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assetflow.assets import AssetDef
from assetflow.config import ProjectConfig, find_config, load_config
from assetflow.errors import PartitionError, SelectionError, did_you_mean
from assetflow.graph import AssetGraph
from assetflow.loader import load_definitions
from assetflow.selection import select

Selection = str | Sequence[str] | None


class Project:
    """A loaded assetflow project: its configuration and its validated asset graph.

    ``Project.load()`` finds ``assets.toml`` upward from the current folder (or takes a path to
    the file or its folder), imports the project's modules and validates the graph; every
    problem is an :class:`~assetflow.errors.AssetflowError` that names its culprit.
    """

    def __init__(self, config: ProjectConfig, graph: AssetGraph) -> None:
        self.config = config
        self.graph = graph

    @classmethod
    def load(cls, path: str | Path | None = None) -> Project:
        """Load the project whose ``assets.toml`` is at or above ``path`` (default: cwd)."""
        config = load_config(find_config(Path(path) if path is not None else None))
        definitions = load_definitions(config)
        return cls(config, AssetGraph(definitions.assets, definitions.checks))

    @property
    def root(self) -> Path:
        """The folder holding ``assets.toml``."""
        return self.config.root

    @property
    def name(self) -> str:
        return self.config.project.name

    @property
    def assets(self) -> dict[str, AssetDef]:
        """Every asset by name, in topological order."""
        return self.graph.assets

    def asset(self, name: str) -> AssetDef:
        """One asset by name; an unknown name is a SelectionError suggesting close names."""
        if name not in self.graph:
            raise SelectionError(f"unknown asset '{name}'" + did_you_mean(name, self.graph.assets))
        return self.graph[name]

    def select(self, selection: Selection = None, exclude: Selection = None) -> list[str]:
        """Asset names selected (dbt-like syntax, see :mod:`assetflow.selection`)."""
        return select(self.graph, selection, exclude)

    def partition_keys(
        self,
        asset: str,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Validated partition keys of ``asset``: one key, an inclusive range, or all due keys.

        ``first`` / ``last`` default to the first and last due partition when only one is
        given. Raises :class:`PartitionError` naming the key that does not parse, lies outside
        the definition, or a range whose start is after its end.
        """
        definition = self.asset(asset).partitions
        if partition is not None and (first is not None or last is not None):
            raise PartitionError("give either --partition or --from/--to, not both")
        if partition is not None:
            return [definition.validate_key(partition, now)]
        if first is None and last is None:
            return definition.keys(now)
        keys = definition.keys(now)
        if not keys:
            raise PartitionError(f"asset '{asset}' has no due partitions yet ({definition})")
        return definition.key_range(first or keys[0], last or keys[-1], now)

    def describe_asset(self, name: str, now: datetime | None = None) -> dict[str, Any]:
        """The ``list --json`` record of one asset (field names are a stable contract)."""
        definition = self.asset(name)
        return {
            "asset": definition.name,
            "kind": definition.kind,
            "partitions": definition.partitions.describe(now),
            "deps": list(definition.dep_names),
            "mappings": {
                dep: self.graph.mapping(name, dep).describe() for dep in definition.dep_names
            },
            "group": definition.group,
            "tags": dict(definition.tags),
            "owners": list(definition.owners),
            "schedule": definition.schedule,
            "io": definition.io,
            "code_version": definition.code_version,
            "checks": [c.name for c in self.graph.checks if c.asset == name],
            "description": definition.description,
            "source": definition.source,
        }

    def list_assets(
        self, selection: Selection = None, exclude: Selection = None, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """``describe_asset`` for every selected asset, in topological order."""
        return [self.describe_asset(name, now) for name in self.select(selection, exclude)]
