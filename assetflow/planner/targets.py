"""Which partitions of the selected assets a command means: all, one key, or a key range.

A key or range is read in the partitions of the first selected asset that parses it, and
applies to every selected asset whose definition has it; other time-partitioned assets then
take the partitions whose windows overlap that time span (so ``--from 2024-01-01 --to
2024-01-31`` means January for a daily asset and ``2024-01`` for a monthly one), unpartitioned
assets their one partition, and the rest (static or multi-partitioned assets, say) the
partitions their mappings give from the partitioned ones among those: downstream of them first,
else upstream. An asset that none of this reaches gets no partition; only a key no selected
asset has is an error.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import overload

from assetflow.errors import PartitionError
from assetflow.graph.asset_graph import AssetGraph
from assetflow.partitions.core import PartitionsDefinition, TimeWindowPartitions
from assetflow.partitions.keyspace import KeySequence
from assetflow.planner.keys import ExistingKeys

Node = tuple[str, str]


class Targets(Sequence[Node]):
    """The (asset, key) targets of a command, in asset order, held as one key list per asset.

    A command over every partition of a thousand assets names a million partitions: the key
    lists are shared with :class:`ExistingKeys` rather than copied into a million tuples, and
    membership is a set lookup per asset.
    """

    def __init__(self, groups: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.groups = [(asset, keys) for asset, keys in groups if keys]
        self._ends: list[int] = []
        total = 0
        for _, keys in self.groups:
            total += len(keys)
            self._ends.append(total)
        self._sets: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[Node]:
        for asset, keys in self.groups:
            for key in keys:
                yield (asset, key)

    @overload
    def __getitem__(self, index: int) -> Node: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Node]: ...
    def __getitem__(self, index: int | slice) -> Node | Sequence[Node]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        group = bisect.bisect_right(self._ends, index)
        start = self._ends[group - 1] if group else 0
        asset, keys = self.groups[group]
        return (asset, keys[index - start])

    def __contains__(self, node: object) -> bool:
        if not (isinstance(node, tuple) and len(node) == 2):
            return False
        asset, key = node
        known = self._sets.get(asset)
        if known is None:
            keys = self._by_asset().get(asset, ())
            if isinstance(keys, KeySequence):  # arithmetic, not a set of a million keys
                return key in keys
            known = self._sets[asset] = frozenset(keys)
        return key in known

    def keys_of(self, asset: str) -> Sequence[str]:
        """The targeted keys of ``asset`` (none if it is not targeted)."""
        return self._by_asset().get(asset, ())

    def _by_asset(self) -> dict[str, Sequence[str]]:
        index: dict[str, Sequence[str]] | None = self.__dict__.get("_index")
        if index is None:
            index = self.__dict__["_index"] = dict(self.groups)
        return index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Targets | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Targets({len(self)} partitions of {len(self.groups)} assets)"


def _parses(definition: PartitionsDefinition, keys: Sequence[str], now: datetime) -> bool:
    try:
        for key in keys:
            definition.validate_key(key, now)
    except PartitionError:
        return False
    return True


def resolve_targets(
    graph: AssetGraph,
    assets: Sequence[str],
    now: datetime,
    partition: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> Targets:
    """The (asset, partition) targets of a command, validated, in asset order."""
    existing = ExistingKeys(graph, now)
    if partition is not None and (first is not None or last is not None):
        raise PartitionError("give either --partition or --from/--to, not both")
    if partition is None and first is None and last is None:
        return Targets([(name, existing.keys(name)) for name in assets])
    partitioned = [name for name in assets if graph[name].partitions.kind != "none"]
    if not partitioned:
        raise PartitionError(
            f"no selected asset is partitioned ({', '.join(assets)}); drop --partition/--from/--to"
        )
    if partition is not None:
        first = last = partition
    first, last = _fill_range(graph, existing, partitioned, first, last)
    reference = next(
        (name for name in partitioned if _parses(graph[name].partitions, [first, last], now)),
        None,
    )
    if reference is None:
        # Report the first asset's own complaint: it names the key and the definition.
        graph[partitioned[0]].partitions.key_range(first, last, now)
        raise PartitionError(f"'{first}'..'{last}' are not partitions of {partitioned[0]}")
    ref_def = graph[reference].partitions
    keys = _key_range(existing.keys(reference), ref_def, first, last, now)
    span = _span(ref_def, first, last)
    found: dict[str, Sequence[str]] = {}
    for name in assets:
        definition = graph[name].partitions
        if definition.kind == "none":
            found[name] = ["-"]
        elif definition == ref_def or _parses(definition, [first, last], now):
            found[name] = keys if definition == ref_def else definition.key_range(first, last, now)
        elif isinstance(definition, TimeWindowPartitions) and span is not None:
            found[name] = _overlapping(definition, existing, name, span)
    mapped = [name for name in assets if name not in found]
    if mapped:
        found.update(_through_mappings(graph, existing, found, mapped, now))
    return Targets([(name, found.get(name, ())) for name in assets])


def _key_range(
    existing: Sequence[str],
    definition: PartitionsDefinition,
    first: str,
    last: str,
    now: datetime,
) -> Sequence[str]:
    """``definition.key_range(first, last, now)``; a slice of the KeySequence of time keys too
    many to list (no list of a million keys, no cache of them)."""
    if not isinstance(existing, KeySequence) or not isinstance(definition, TimeWindowPartitions):
        return definition.key_range(first, last, now)
    lo = existing.position(definition.validate_key(first, now))
    hi = existing.position(definition.validate_key(last, now))
    if lo is None or hi is None or lo > hi:
        return definition.key_range(first, last, now)  # its own error
    return existing[lo : hi + 1]


def _through_mappings(
    graph: AssetGraph,
    existing: ExistingKeys,
    found: dict[str, Sequence[str]],
    names: Sequence[str],
    now: datetime,
) -> dict[str, Sequence[str]]:
    """The partitions of ``names`` that the mappings give from the selected partitions
    ``found``: those reading them (assets in dependency order, so a chain of such assets
    follows), else, for an asset upstream of them, those they read. Unpartitioned assets take
    part in neither: every partition reads them (or is read by them), so following them would
    bring in every partition of their neighbours whatever the key."""
    order = {name: i for i, name in enumerate(graph.topological_order())}
    known = {name: keys for name, keys in found.items() if graph[name].partitions.kind != "none"}
    result: dict[str, Sequence[str]] = {}
    pending = sorted(names, key=order.__getitem__)
    for name in pending:
        wanted: set[str] = set()
        for dep in graph[name].dep_names:
            if dep == name or dep not in known:
                continue
            mapping, upstream = graph.mapping(name, dep), graph[dep].partitions
            for key in known[dep]:
                wanted.update(mapping.downstream_keys(key, graph[name].partitions, upstream, now))
        if wanted:
            known[name] = result[name] = _in_order(existing, name, wanted)
    for name in reversed(pending):
        if name in result:
            continue
        wanted = set()
        for reader in graph.downstream(name):
            if reader not in known:
                continue
            mapping, reader_partitions = graph.mapping(reader, name), graph[reader].partitions
            for key in known[reader]:
                wanted.update(
                    mapping.upstream_keys(key, reader_partitions, graph[name].partitions, now)
                )
        if wanted:
            known[name] = result[name] = _in_order(existing, name, wanted)
    return result


def _in_order(existing: ExistingKeys, name: str, keys: set[str]) -> list[str]:
    """The existing ones of ``keys``, in the asset's partition order."""
    return [key for key in existing.keys(name) if key in keys]


def _fill_range(
    graph: AssetGraph,
    existing: ExistingKeys,
    partitioned: Sequence[str],
    first: str | None,
    last: str | None,
) -> tuple[str, str]:
    """A missing --from or --to defaults to the first/last due partition of the first asset."""
    if first is not None and last is not None:
        return first, last
    keys = existing.keys(partitioned[0])
    if not keys:
        raise PartitionError(f"asset '{partitioned[0]}' has no due partitions yet")
    return keys[0] if first is None else first, keys[-1] if last is None else last


def _span(
    definition: PartitionsDefinition, first: str, last: str
) -> tuple[datetime, datetime] | None:
    if not isinstance(definition, TimeWindowPartitions):
        return None
    # In UTC: Python compares datetimes sharing one tzinfo by wall clock, wrong across DST.
    return (
        definition.time_window(first)[0].astimezone(UTC),
        definition.time_window(last)[1].astimezone(UTC),
    )


def _overlapping(
    definition: TimeWindowPartitions,
    existing: ExistingKeys,
    name: str,
    span: tuple[datetime, datetime],
) -> list[str]:
    start, end = span
    result = []
    for key in existing.keys(name):
        window_start, window_end = definition.time_window(key)
        if window_start.astimezone(UTC) < end and window_end.astimezone(UTC) > start:
            result.append(key)
    return result
