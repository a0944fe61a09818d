"""The asset graph: validation, traversal and the partition-level expansion.

Built once from the loaded :class:`AssetDef` objects, with every edge's partition
mapping resolved up front (explicit or default), so that later layers ask plain questions:
"which upstream partitions does ``monthly_revenue[2024-01]`` read?" and the reverse.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from assetflow.definitions.assets import AssetDef, check_asset_name
from assetflow.definitions.checks import CheckDef
from assetflow.errors import DefinitionError, GraphError, did_you_mean
from assetflow.mappings.core import (
    IdentityMapping,
    PartitionMapping,
    check_self_dependency,
    default_mapping,
)


class AssetGraph:
    """A validated graph of assets, edges pointing from upstream to downstream.

    Raises :class:`GraphError` for duplicate or invalid names, unknown upstream assets and
    dependency cycles, and :class:`DefinitionError` for a mapping that cannot apply to the two
    partition definitions or a self-dependency without a negative time offset.
    """

    def __init__(self, assets: Iterable[AssetDef], checks: Iterable[CheckDef] = ()) -> None:
        by_name: dict[str, AssetDef] = {}
        for definition in assets:
            check_asset_name(definition.name, definition.source or "asset")
            if definition.name in by_name:
                other = by_name[definition.name]
                raise GraphError(
                    f"two assets are named '{definition.name}': "
                    f"{other.source or '?'} and {definition.source or '?'}"
                )
            by_name[definition.name] = definition
        # Plain adjacency dicts: importing networkx costs a quarter of a second at every start-up,
        # so it is only loaded to name a cycle or when `digraph` is asked for.
        self._predecessors: dict[str, set[str]] = {name: set() for name in by_name}
        self._successors: dict[str, set[str]] = {name: set() for name in by_name}
        self._mappings: dict[tuple[str, str], PartitionMapping] = {}
        self._inputs_versions: dict[str, str] = {}
        for definition in by_name.values():
            for dep in definition.deps:
                if dep.name not in by_name:
                    raise GraphError(
                        f"asset '{definition.name}' depends on unknown asset '{dep.name}'"
                        + did_you_mean(dep.name, by_name)
                    )
                upstream = by_name[dep.name]
                self._mappings[(definition.name, dep.name)] = _resolve_mapping(
                    definition, upstream, dep.mapping
                )
                if dep.name != definition.name:
                    self._predecessors[definition.name].add(dep.name)
                    self._successors[dep.name].add(definition.name)
        self._order: list[str] = self._topological_sort()
        self.assets: dict[str, AssetDef] = {name: by_name[name] for name in self._order}
        self.checks: tuple[CheckDef, ...] = tuple(checks)
        for check_def in self.checks:
            if check_def.asset not in self.assets:
                raise GraphError(
                    f"check '{check_def.name}' is on unknown asset '{check_def.asset}'"
                    + did_you_mean(check_def.asset, self.assets)
                )

    # -- asset level -------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self.assets

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, name: str) -> AssetDef:
        return self.assets[name]

    @property
    def digraph(self) -> Any:
        """The graph as a networkx DiGraph (self-dependencies are not edges), built on demand."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self._order)
        graph.add_edges_from((up, down) for down, ups in self._predecessors.items() for up in ups)
        return graph

    def _topological_sort(self) -> list[str]:
        """Kahn's algorithm, ties broken by name (the order networkx's lexicographical sort gives).

        Raises GraphError naming the assets of a cycle if there is one.
        """
        waiting = {name: len(ups) for name, ups in self._predecessors.items()}
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for child in self._successors[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(waiting):
            _reject_cycles(self._predecessors, set(waiting) - set(order))
        return order

    def topological_order(self) -> list[str]:
        """Every asset, upstream before downstream, ties broken by name."""
        return list(self._order)

    def upstream(self, name: str) -> list[str]:
        """Direct upstream assets of ``name`` in declaration order (itself if self-dependent)."""
        return list(self.assets[name].dep_names)

    def downstream(self, name: str) -> list[str]:
        """Direct downstream assets of ``name`` (excluding itself), sorted."""
        return sorted(self._successors[name])

    def ancestors(self, name: str, depth: int | None = None) -> set[str]:
        """Upstream assets of ``name`` up to ``depth`` levels (all if None), excluding itself."""
        return self._walk(name, self._predecessors.__getitem__, depth)

    def descendants(self, name: str, depth: int | None = None) -> set[str]:
        """Downstream assets of ``name`` up to ``depth`` levels (all if None), excluding itself."""
        return self._walk(name, self._successors.__getitem__, depth)

    @staticmethod
    def _walk(start: str, neighbours: Any, depth: int | None) -> set[str]:
        seen: set[str] = set()
        frontier = [start]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            following: list[str] = []
            for node in frontier:
                for other in neighbours(node):
                    if other not in seen and other != start:
                        seen.add(other)
                        following.append(other)
            frontier = following
        return seen

    def edges(self) -> list[tuple[str, str]]:
        """(upstream, downstream) pairs in topological order of the downstream, self-loops too."""
        return [(dep, name) for name in self._order for dep in self.assets[name].dep_names]

    def inputs_version(self, name: str) -> str:
        """A hash of what decides which upstream partitions each partition of ``name`` reads.

        Its partitions definition and, per upstream asset, the name, the resolved mapping and
        the upstream's definition. Recorded with every materialization: while it stays the same
        (and the edges do not depend on the clock, see :mod:`assetflow.planner.screen`), the
        lineage recorded is still the set of partitions the partition should read.
        """
        known = self._inputs_versions.get(name)
        if known is None:
            definition = self.assets[name]
            edges = sorted(
                f"{dep}|{self._mappings[(name, dep)]!r}|{self.assets[dep].partitions!r}"
                for dep in definition.dep_names
            )
            parts = [repr(definition.partitions), *edges]
            digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
            known = self._inputs_versions[name] = digest[:12]
        return known

    def mapping(self, downstream: str, upstream: str) -> PartitionMapping:
        """The resolved partition mapping of the edge upstream → downstream."""
        return self._mappings[(downstream, upstream)]

    # -- partition level ---------------------------------------------------------------------

    def upstream_partitions(
        self, name: str, key: str, now: datetime | None = None
    ) -> dict[str, list[str]]:
        """For one partition of ``name``: each upstream asset's partition keys it reads."""
        definition = self.assets[name]
        return {
            dep: self._mappings[(name, dep)].upstream_keys(
                key, definition.partitions, self.assets[dep].partitions, now
            )
            for dep in definition.dep_names
        }

    def downstream_partitions(
        self, name: str, key: str, now: datetime | None = None
    ) -> dict[str, list[str]]:
        """For one partition of ``name``: each downstream asset's partition keys that read it."""
        upstream = self.assets[name].partitions
        result: dict[str, list[str]] = {}
        targets = self.downstream(name) + ([name] if name in self.assets[name].dep_names else [])
        for target in targets:
            result[target] = self._mappings[(target, name)].downstream_keys(
                key, self.assets[target].partitions, upstream, now
            )
        return result

    def upstream_partitions_bulk(
        self, name: str, keys: Sequence[str], now: datetime | None = None
    ) -> dict[str, list[list[str]]]:
        """:meth:`upstream_partitions` for many keys at once, one list per key and upstream.

        Identity edges (the common case: same definition on both sides) skip the mapping call.
        """
        definition = self.assets[name]
        result: dict[str, list[list[str]]] = {}
        for dep in definition.dep_names:
            mapping = self._mappings[(name, dep)]
            if isinstance(mapping, IdentityMapping):
                result[dep] = [[key] for key in keys]
                continue
            upstream = self.assets[dep].partitions
            result[dep] = [
                mapping.upstream_keys(key, definition.partitions, upstream, now) for key in keys
            ]
        return result


def _resolve_mapping(
    downstream: AssetDef, upstream: AssetDef, explicit: PartitionMapping | None
) -> PartitionMapping:
    where = f"asset '{downstream.name}' (upstream '{upstream.name}')"
    if downstream.name == upstream.name:
        check_self_dependency(explicit, downstream.partitions, downstream.name)
        assert explicit is not None  # check_self_dependency rejects a missing mapping
        return explicit
    try:
        mapping = explicit or default_mapping(downstream.partitions, upstream.partitions)
        mapping.validate(downstream.partitions, upstream.partitions)
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from None
    return mapping


def _reject_cycles(predecessors: dict[str, set[str]], stuck: set[str]) -> None:
    """Name the assets on one dependency cycle among ``stuck`` (assets Kahn could not order)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from((up, down) for down in stuck for up in predecessors[down] if up in stuck)
    cycle = nx.find_cycle(graph)
    names = [edge[0] for edge in cycle] + [cycle[0][0]]
    raise GraphError("dependency cycle: " + " → ".join(names))
