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
from assetflow.partitions.keyspace import KeySequence, existing_keys


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
    positions are computed once and shared. A definition with more than
    :data:`~assetflow.partitions.keyspace.LISTED_KEYS` keys is not listed: its keys are a
    :class:`~assetflow.partitions.keyspace.KeySequence` and positions are arithmetic.
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
                found = self._by_definition[definition] = _Keys(existing_keys(definition, self.now))
            self._shared[asset] = found
        return found

    def keys(self, asset: str) -> Sequence[str]:
        """Every existing key of ``asset``, in order (shared: do not modify it)."""
        return self._of(asset).keys

    def contains(self, asset: str, key: str) -> bool:
        return self._of(asset).position(key) is not None

    def position(self, asset: str, key: str) -> int:
        """The index of ``key`` among the existing keys (oldest first); past the end if none.

        The same order as :func:`partition_order` within one asset, at a dict lookup's cost.
        """
        found = self._of(asset)
        position = found.position(key)
        return len(found.keys) if position is None else position

    def order(self, asset: str, key: str) -> tuple[float, ...]:
        """:func:`partition_order` of an existing key, from its position (no key parsing)."""
        definition = self.graph[asset].partitions
        position = self._of(asset).position(key)
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
    """One definition's existing keys, in order, and each key's position (a dict for listed
    keys, arithmetic for a KeySequence)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = keys
        self._positions: dict[str, int] | None = None
        if not isinstance(keys, KeySequence):
            self._positions = {key: i for i, key in enumerate(keys)}

    def position(self, key: str) -> int | None:
        if self._positions is not None:
            return self._positions.get(key)
        assert isinstance(self.keys, KeySequence)
        return self.keys.position(key)
