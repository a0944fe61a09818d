"""Partition-key helpers the planner shares: which keys exist now, and their order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions.core import (
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
)


def partition_order(definition: PartitionsDefinition, key: str) -> tuple[float, ...]:
    """A sort key: time partitions by window start (as a UTC timestamp), others by position.

    Steps of different assets compare by it too, so that among independent steps time
    partitions run oldest first.
    """
    if isinstance(definition, TimeWindowPartitions):
        return (definition.time_window(key)[0].timestamp(),)
    if isinstance(definition, StaticPartitions):
        return (float(definition.position(key)),)
    if isinstance(definition, MultiPartitions):
        parts = definition.split_key(key)
        return tuple(
            partition_order(dimension, parts[name])[0] for name, dimension in definition.dimensions
        )
    return (0.0,)


class ExistingKeys:
    """The keys of each asset that exist at one moment, computed once per definition.

    Assets often share a definition (equal, if not the same object): their keys, key sets and
    positions are computed once and shared.
    """

    def __init__(self, graph: AssetGraph, now: datetime) -> None:
        self.graph = graph
        self.now = now
        self._shared: dict[str, _Keys] = {}
        self._by_definition: dict[PartitionsDefinition, _Keys] = {}

    def _of(self, asset: str) -> _Keys:
        found = self._shared.get(asset)
        if found is None:
            definition = self.graph[asset].partitions
            found = self._by_definition.get(definition)
            if found is None:
                found = self._by_definition[definition] = _Keys(definition.keys(self.now))
            self._shared[asset] = found
        return found

    def keys(self, asset: str) -> list[str]:
        """Every existing key of ``asset``, in order (a shared list: do not modify it)."""
        return self._of(asset).keys

    def contains(self, asset: str, key: str) -> bool:
        return key in self._of(asset).positions

    def position(self, asset: str, key: str) -> int:
        """The index of ``key`` among the existing keys (oldest first); past the end if none.

        The same order as :func:`partition_order` within one asset, at a dict lookup's cost.
        """
        positions = self._of(asset).positions
        return positions.get(key, len(positions))

    def order(self, asset: str, key: str) -> tuple[float, ...]:
        """:func:`partition_order` of an existing key, from its position (no key parsing)."""
        definition = self.graph[asset].partitions
        position = self._of(asset).positions.get(key)
        if position is None:
            return partition_order(definition, key)
        if isinstance(definition, TimeWindowPartitions):
            return (definition.window_at(position)[0].timestamp(),)
        if isinstance(definition, StaticPartitions):
            return (float(position),)
        return partition_order(definition, key)

    def filter(self, asset: str, keys: Sequence[str]) -> list[str]:
        """``keys`` that exist now (mapped upstream windows not yet due are dropped)."""
        return [key for key in keys if self.contains(asset, key)]

    def last(self, asset: str) -> str | None:
        """The latest existing key, or None."""
        keys = self.keys(asset)
        return keys[-1] if keys else None


class _Keys:
    """One definition's existing keys, in order, and each key's position."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.positions = {key: i for i, key in enumerate(keys)}
