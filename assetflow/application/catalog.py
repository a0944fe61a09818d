"""The catalog half of the :class:`~assetflow.application.project.Project` facade: what the
project declares (partition keys, the ``list`` records of its assets)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from assetflow.errors import PartitionError

if TYPE_CHECKING:
    from assetflow.application.workspace import Selection
    from assetflow.definitions.assets import AssetDef
    from assetflow.graph.asset_graph import AssetGraph


class Catalog:
    """What a project declares, described (mixed into ``Project``)."""

    graph: AssetGraph

    def asset(self, name: str) -> AssetDef:  # pragma: no cover - Project defines it
        raise NotImplementedError

    def select(  # pragma: no cover - Project defines it
        self, selection: Selection = None, exclude: Selection = None
    ) -> list[str]:
        raise NotImplementedError

    def _schedule_members(self) -> dict[str, list[str]]:  # pragma: no cover - Project's
        raise NotImplementedError

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
        # `is None`, not `or`: an empty bound is a bad key, not "from the first partition".
        return definition.key_range(
            keys[0] if first is None else first, keys[-1] if last is None else last, now
        )

    def describe_asset(
        self,
        name: str,
        now: datetime | None = None,
        schedules: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
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
            "schedules": (schedules or self._schedule_members())[name],
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
        schedules = self._schedule_members()
        return [
            self.describe_asset(name, now, schedules) for name in self.select(selection, exclude)
        ]
