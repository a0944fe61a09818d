"""The history half of the :class:`~assetflow.application.project.Project` facade: runs,
logs, lineage, backfill records and pruning, read from the state store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from assetflow.errors import PartitionError, RunError
from assetflow.records import RunStatus

if TYPE_CHECKING:
    from assetflow.config.models import ProjectConfig
    from assetflow.definitions.assets import AssetDef
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.store.store import StateStore


class HistoryQueries:
    """What history says about a project (mixed into ``Project``)."""

    config: ProjectConfig
    graph: AssetGraph

    def asset(self, name: str) -> AssetDef:  # pragma: no cover - Project defines it
        raise NotImplementedError

    @property
    def store(self) -> StateStore:
        """The project's state store: history, statuses and the tables beside them."""
        from assetflow.store.store import StateStore

        return StateStore(self.config.state_path)

    def backfills(self, limit: int = 20) -> list[Any]:
        """Recent backfills, newest first."""
        return self.store.backfills(limit)

    def backfill_record(self, backfill_id: str) -> Any:
        """One backfill by id (or unique prefix); RunError if unknown."""
        record = self.store.backfill(backfill_id)
        if record is None:
            raise RunError(f"unknown backfill '{backfill_id}' (see `assetflow backfill list`)")
        return record

    def runs(
        self, limit: int = 20, status: str | None = None, asset: str | None = None
    ) -> list[Any]:
        """Recent runs, newest first, with step counts; RunError for an unknown ``status``."""
        statuses = [s.value for s in RunStatus]
        if status is not None and status not in statuses:
            # It would match no run and read as an empty history.
            expected = ", ".join(statuses)
            raise RunError(f"unknown run status {status!r} (expected one of: {expected})")
        if asset is not None:
            self.asset(asset)
        return self.store.runs(limit=limit, status=status, asset=asset)

    def run(self, run_id: str) -> tuple[Any, list[Any]]:
        """One run and every attempt of its steps; RunError for an unknown id."""
        store = self.store
        record = store.run(run_id)
        if record is None:
            raise RunError(f"unknown run '{run_id}' (see `assetflow runs`)")
        return record, store.run_steps(record.run_id)

    def logs(
        self,
        asset: str,
        partition: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Captured log records of an asset's materializations, oldest first."""
        self.asset(asset)
        return self.store.logs(asset, partition, run_id, limit)

    def lineage(
        self, asset: str, partition: str | None = None, direction: str = "both", depth: int = 10
    ) -> dict[str, Any]:
        """Which materializations fed which, around the latest success of one partition."""
        from assetflow.application.lineage import lineage_graph

        definition = self.asset(asset)
        key = "-" if partition is None and definition.partitions.kind == "none" else partition
        if key is None:
            raise PartitionError(f"asset '{asset}' is partitioned; name a partition")
        key = definition.partitions.validate_key(key)
        return lineage_graph(self.store, asset, key, direction, depth)

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete history of runs that ended before ``before`` (statuses stay the same)."""
        return self.store.prune(before)
