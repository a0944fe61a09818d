"""Screening: the partitions that might not be fresh, found in bulk before any is evaluated.

``status`` over a million partitions cannot evaluate each one in Python, and need not: most are
fresh. A partition is fresh unless it has a *direct* reason (it never succeeded, its last
attempt failed, its code changed, an upstream partition it read has another data version now,
the shape of its inputs changed) or it reads a partition that is not fresh. The store finds the
direct ones with one scan of its status cache (``StateStore.screen``), from the plain data
built here; :func:`expand_downstream` adds every partition that reads them, transitively. Only
these candidates are evaluated one by one (``StatusEvaluator(candidates=...)``); every other
partition is fresh. Screening may over-approximate (a candidate can turn out fresh), never
under: the property tests hold it equal to evaluating every partition.

The recorded lineage of a success is exactly the upstream partitions it read, and it stands for
what the partition should read *now* while two things hold: the shape of its inputs is the same
(:meth:`AssetGraph.inputs_version`, recorded with it), and no edge's answer depends on the
clock. An edge is clock-free when the upstream's keys never change (unpartitioned, static) or
when both sides share one definition and the mapping reads the same or earlier windows
(identity, ``TimeWindowMapping`` with ``end_offset <= 0``): those upstream partitions exist
whenever the partition itself does. Assets with any other edge (windows across cadences, all or
last of a time-partitioned upstream, multi-partition and custom mappings), and unpartitioned
assets with a freshness policy, are *verified*: each of their partitions is a candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from assetflow.graph.asset_graph import AssetGraph
from assetflow.mappings.core import IdentityMapping, TimeWindowMapping
from assetflow.partitions import ranges
from assetflow.partitions.core import StaticPartitions, Unpartitioned
from assetflow.partitions.keyspace import KeySequence, Layout, existing_keys, layout_of

Node = tuple[str, str]


@dataclass(frozen=True)
class AssetScreen:
    """What the status-cache scan compares for one asset's partitions."""

    name: str
    code_version: str
    inputs_version: str
    group: int  # index of its existing keys in ScreenSpec.key_lists (shared per definition)
    verify: bool  # every existing partition is a candidate


@dataclass(frozen=True)
class ScreenSpec:
    """The plain data a screening scan needs: assets in graph order and their existing keys."""

    now: datetime
    assets: tuple[AssetScreen, ...]
    key_lists: tuple[Sequence[str], ...]
    # Per group: how keys are numbered when they are too many to list (see
    # assetflow.partitions.keyspace), else None (the scan joins the key list).
    layouts: tuple[Layout | None, ...] = ()

    def keys(self, asset: AssetScreen) -> Sequence[str]:
        """The existing keys of ``asset``, oldest first."""
        return self.key_lists[asset.group]

    def layout(self, asset: AssetScreen) -> Layout | None:
        """How ``asset``'s keys are numbered in the scan, or None if they are listed."""
        return self.layouts[asset.group] if self.layouts else None


def clock_free(graph: AssetGraph, name: str, dep: str) -> bool:
    """Whether the upstream partitions of ``name`` on the edge from ``dep`` never change with
    the clock (for partitions of ``name`` that exist)."""
    upstream = graph[dep].partitions
    if isinstance(upstream, Unpartitioned | StaticPartitions):
        return True
    if graph[name].partitions != upstream:
        return False
    mapping = graph.mapping(name, dep)
    if isinstance(mapping, IdentityMapping):
        return True
    return isinstance(mapping, TimeWindowMapping) and mapping.end_offset <= 0


def build_screen_spec(graph: AssetGraph, now: datetime) -> ScreenSpec:
    """The screening data of every asset of ``graph`` at ``now``."""
    groups: dict[object, int] = {}
    key_lists: list[Sequence[str]] = []
    layouts: list[Layout | None] = []
    assets: list[AssetScreen] = []
    for name in graph.topological_order():
        definition = graph[name]
        partitions = definition.partitions
        group = groups.get(partitions)
        if group is None:
            group = groups[partitions] = len(key_lists)
            keys = existing_keys(partitions, now)
            key_lists.append(keys)
            layouts.append(layout_of(partitions, now) if isinstance(keys, KeySequence) else None)
        verify = not all(clock_free(graph, name, dep) for dep in definition.dep_names) or (
            definition.freshness is not None and isinstance(partitions, Unpartitioned)
        )
        assets.append(
            AssetScreen(
                name=name,
                code_version=definition.code_version,
                inputs_version=graph.inputs_version(name),
                group=group,
                verify=verify,
            )
        )
    return ScreenSpec(
        now=now, assets=tuple(assets), key_lists=tuple(key_lists), layouts=tuple(layouts)
    )


def expand_downstream(
    graph: AssetGraph, spec: ScreenSpec, direct: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """``direct`` plus every existing partition that reads one of them, transitively.

    Assets are visited in graph order, so each one's set is complete before it spreads. When
    every partition of an asset is in, each downstream asset is taken whole (a superset of its
    readers, without asking the mapping a million times).
    """
    found: dict[str, set[str]] = {name: set(keys) for name, keys in direct.items()}
    counts = {asset.name: len(spec.keys(asset)) for asset in spec.assets}
    for asset in spec.assets:
        name = asset.name
        keys = found.get(name)
        if not keys:
            continue
        targets = graph.downstream(name)
        if len(keys) >= counts[name]:
            for target in targets:
                found[target] = set(spec.keys(_screen_of(spec, target)))
            continue
        stack = list(keys)
        while stack:
            key = stack.pop()
            for target, target_keys in graph.downstream_partitions(name, key, spec.now).items():
                into = found.setdefault(target, set())
                for target_key in target_keys:
                    if target_key not in into:
                        into.add(target_key)
                        if target == name:  # a self-dependency spreads within the asset
                            stack.append(target_key)
    return {name: keys for name, keys in found.items() if keys}


def _screen_of(spec: ScreenSpec, name: str) -> AssetScreen:
    index: dict[str, AssetScreen] = spec.__dict__.setdefault(
        "_by_name", {asset.name: asset for asset in spec.assets}
    )
    return index[name]


class Candidates(AbstractSet[Node]):
    """The partitions that may not be fresh: ``explicit`` nodes, plus per asset of ``bulk`` the
    existing partitions never attempted, as index ranges over its keys (a KeySequence).

    Bulk partitions are missing with no other reason (see ``bulk_ready``): they are counted
    and tested by arithmetic, and listed only if someone iterates the whole set.
    """

    def __init__(
        self,
        explicit: set[Node],
        bulk: Mapping[str, tuple[KeySequence, ranges.Ranges]] | None = None,
    ) -> None:
        self.explicit = explicit
        self.bulk = dict(bulk or {})

    @classmethod
    def _from_iterable(cls, it: Iterable[Node]) -> set[Node]:
        return set(it)  # what set operations with a Candidates give back

    def __contains__(self, node: object) -> bool:
        if node in self.explicit:
            return True
        if not (isinstance(node, tuple) and len(node) == 2) or node[0] not in self.bulk:
            return False
        keys, found = self.bulk[node[0]]
        position = keys.position(node[1])
        return position is not None and ranges.contains(found, position)

    def __len__(self) -> int:
        return len(self.explicit) + sum(self.bulk_count(name) for name in self.bulk)

    def __iter__(self) -> Iterator[Node]:
        yield from self.explicit
        for name, (keys, found) in self.bulk.items():
            for lo, hi in found:
                for key in keys[lo:hi]:
                    yield (name, key)

    def bulk_count(self, asset: str) -> int:
        """How many partitions of ``asset`` are bulk candidates."""
        found = self.bulk.get(asset)
        return 0 if found is None else ranges.count(found[1])


def bulk_ready(graph: AssetGraph, name: str) -> bool:
    """Whether ``name``'s never-attempted partitions are ``missing`` with the one reason
    "never materialized" whatever else happens: nothing reads them (not even the asset itself),
    it is no source and reads none, and has no freshness policy."""
    definition = graph[name]
    return (
        not graph.downstream(name)
        and name not in definition.dep_names
        and not definition.is_source
        and definition.freshness is None
        and not any(graph[up].is_source for up in graph.ancestors(name))
    )
