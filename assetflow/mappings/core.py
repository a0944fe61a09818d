"""Partition mappings: which upstream partitions each downstream partition reads, and the reverse.

A mapping is a frozen dataclass applied to a pair of definitions:
``upstream_keys(downstream_key, downstream, upstream, now)`` lists the upstream keys a downstream
partition needs, in upstream order and clipped to the upstream definition's bounds (for time
windows, not to what is due yet: the planner decides about partitions that will exist later), and
``downstream_keys`` is its exact reverse over the downstream partitions existing at ``now``.

The mappings between single definitions live in :mod:`assetflow.mappings.basic` and
:mod:`assetflow.mappings.static`; this module adds
the multi-dimensional ones, :func:`default_mapping` (the mapping of a dependency that declares
none) and :func:`check_self_dependency`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache

from assetflow.errors import DefinitionError
from assetflow.mappings.basic import (
    AllPartitionsMapping,
    IdentityMapping,
    LastPartitionMapping,
    PartitionMapping,
    TimeWindowMapping,
    product_keys,
)
from assetflow.mappings.static import StaticMapping
from assetflow.partitions.core import (
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
    Unpartitioned,
)

__all__ = [
    "AllPartitionsMapping",
    "DimensionMapping",
    "IdentityMapping",
    "LastPartitionMapping",
    "MultiMapping",
    "PartitionMapping",
    "StaticMapping",
    "TimeWindowMapping",
    "check_self_dependency",
    "default_mapping",
]

_Resolved = tuple[tuple[str, PartitionMapping, PartitionsDefinition, PartitionsDefinition], ...]


@dataclass(frozen=True, init=False)
class MultiMapping(PartitionMapping):
    """Multi to multi with the same dimension names, mapped dimension by dimension.

    ``MultiMapping({"date": TimeWindowMapping(-1, -1)})`` reads the previous day of the same
    region; dimensions not named use their default mapping. The upstream keys are the cartesian
    product of the per-dimension upstream keys.
    """

    dimensions: tuple[tuple[str, PartitionMapping], ...]

    def __init__(
        self,
        dimensions: Mapping[str, PartitionMapping] | Iterable[tuple[str, PartitionMapping]] = (),
    ) -> None:
        pairs = tuple(dimensions.items() if isinstance(dimensions, Mapping) else dimensions)
        for name, mapping in pairs:
            if not isinstance(mapping, PartitionMapping):
                raise DefinitionError(
                    f"multi mapping dimension {name!r} needs a partition mapping, got {mapping!r}"
                )
        object.__setattr__(self, "dimensions", pairs)

    @cached_property
    def declared(self) -> dict[str, PartitionMapping]:
        """The declared mapping of each named dimension."""
        return dict(self.dimensions)

    def _resolve(
        self, downstream: PartitionsDefinition, upstream: PartitionsDefinition
    ) -> _Resolved:
        return _resolve_multi(self, downstream, upstream)

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The product of each dimension's upstream keys, joined in upstream dimension order."""
        resolved = self._resolve(downstream, upstream)
        assert isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions)
        parts = downstream.split_key(downstream_key)
        per_dimension = {
            name: mapping.upstream_keys(parts[name], down, up, now)
            for name, mapping, down, up in resolved
        }
        return product_keys([per_dimension[name] for name in upstream.names])

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The product of each dimension's downstream keys, in downstream dimension order."""
        resolved = self._resolve(downstream, upstream)
        assert isinstance(upstream, MultiPartitions)
        parts = upstream.split_key(upstream_key)
        return product_keys(
            [
                mapping.downstream_keys(parts[name], down, up, now)
                for name, mapping, down, up in resolved
            ]
        )

    def validate(self, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
        """Both sides multi with the same dimension names; each dimension's mapping applies."""
        for _, mapping, down, up in self._resolve(downstream, upstream):
            mapping.validate(down, up)

    def describe(self) -> str:
        """``multi{date: time_window(-1, -1)}`` (undeclared dimensions use their default)."""
        inner = ", ".join(f"{name}: {mapping.describe()}" for name, mapping in self.dimensions)
        return f"multi{{{inner}}}"


@lru_cache(maxsize=1024)
def _resolve_multi(
    mapping: MultiMapping, downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> _Resolved:
    """Each downstream dimension with its mapping and the two dimension definitions (cached)."""
    if not (isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions)):
        raise DefinitionError(
            f"{mapping.describe()} needs multi partitions on both sides, "
            f"got {upstream} upstream and {downstream} downstream"
        )
    if set(downstream.names) != set(upstream.names):
        raise DefinitionError(
            f"{mapping.describe()} needs the same dimensions on both sides, "
            f"got {', '.join(upstream.names)} upstream and {', '.join(downstream.names)} downstream"
        )
    unknown = [name for name in mapping.declared if name not in downstream.names]
    if unknown:
        raise DefinitionError(
            f"{mapping.describe()} names unknown dimension(s) {', '.join(unknown)} "
            f"(the dimensions are {', '.join(downstream.names)})"
        )
    resolved = []
    for name, down in downstream.dimensions:
        up = upstream.dimension(name)
        dimension_mapping = mapping.declared.get(name) or default_mapping(down, up)
        resolved.append((name, dimension_mapping, down, up))
    return tuple(resolved)


def _multi_and_single(
    mapping: PartitionMapping, downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> bool:
    """True if downstream is the multi side, False if upstream is; DefinitionError otherwise."""
    if isinstance(downstream, MultiPartitions) != isinstance(upstream, MultiPartitions):
        return isinstance(downstream, MultiPartitions)
    raise DefinitionError(
        f"{mapping.describe()} needs multi partitions on exactly one side, "
        f"got {upstream} upstream and {downstream} downstream"
    )


@dataclass(frozen=True)
class DimensionMapping(PartitionMapping):
    """Between a multi-partitioned asset and a single one, through one dimension.

    ``mapping`` maps that dimension to the single definition. When the multi side is downstream,
    its other dimensions do not matter (``2024-01-31|eu`` and ``2024-01-31|us`` both read daily
    ``2024-01-31``); when it is upstream, every existing key of its other dimensions is read
    (daily ``2024-01-31`` reads ``2024-01-31|eu`` and ``2024-01-31|us``).
    """

    dimension: str
    mapping: PartitionMapping

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The mapped dimension's upstream keys (times every existing key of other dimensions)."""
        if _multi_and_single(self, downstream, upstream):
            assert isinstance(downstream, MultiPartitions)
            part = downstream.split_key(downstream_key)[self.dimension]
            return self.mapping.upstream_keys(
                part, downstream.dimension(self.dimension), upstream, now
            )
        assert isinstance(upstream, MultiPartitions)
        return product_keys(
            [
                self.mapping.upstream_keys(downstream_key, downstream, up, now)
                if name == self.dimension
                else up.keys(now)
                for name, up in upstream.dimensions
            ]
        )

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The reverse of :meth:`upstream_keys` over the downstream keys existing at ``now``."""
        if _multi_and_single(self, downstream, upstream):
            assert isinstance(downstream, MultiPartitions)
            return product_keys(
                [
                    self.mapping.downstream_keys(upstream_key, down, upstream, now)
                    if name == self.dimension
                    else down.keys(now)
                    for name, down in downstream.dimensions
                ]
            )
        assert isinstance(upstream, MultiPartitions)
        parts = upstream.split_key(upstream_key)
        # Only existing keys of the other dimensions are read (see upstream_keys).
        for name, up in upstream.dimensions:
            if name != self.dimension and not up.has_key(parts[name], now):
                return []
        return self.mapping.downstream_keys(
            parts[self.dimension], downstream, upstream.dimension(self.dimension), now
        )

    def validate(self, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
        """One side multi with this dimension; the inner mapping applies to it and the other."""
        if _multi_and_single(self, downstream, upstream):
            assert isinstance(downstream, MultiPartitions)
            self.mapping.validate(downstream.dimension(self.dimension), upstream)
        else:
            assert isinstance(upstream, MultiPartitions)
            self.mapping.validate(downstream, upstream.dimension(self.dimension))

    def describe(self) -> str:
        """``dimension(date: time_window(0, 0))``."""
        return f"dimension({self.dimension}: {self.mapping.describe()})"


def _matching_dimension(multi: MultiPartitions, single: PartitionsDefinition) -> str | None:
    """The dimension of ``multi`` that a single definition maps to by default, if exactly one."""
    if isinstance(single, TimeWindowPartitions):
        time_dimension = multi.time_dimension
        return None if time_dimension is None else time_dimension[0]
    if isinstance(single, StaticPartitions):
        equal = [name for name, definition in multi.dimensions if definition == single]
        return equal[0] if len(equal) == 1 else None
    return None


def default_mapping(
    downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> PartitionMapping:
    """The mapping of a dependency that declares none, or DefinitionError if there is none.

    - upstream unpartitioned, or downstream unpartitioned: all (the one partition / every one);
    - equal definitions: identity; time to time: overlapping windows, ``TimeWindowMapping(0, 0)``;
    - multi to multi with the same dimension names: each dimension's default;
    - multi to or from a time or static definition: the matching dimension (the time dimension,
      or the static dimension equal to it) maps by default, the others are all read.
    """
    if isinstance(upstream, Unpartitioned) or isinstance(downstream, Unpartitioned):
        return AllPartitionsMapping()
    if downstream == upstream:
        return IdentityMapping()
    if isinstance(downstream, TimeWindowPartitions) and isinstance(upstream, TimeWindowPartitions):
        return TimeWindowMapping()
    try:
        if isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions):
            if set(downstream.names) == set(upstream.names):
                return MultiMapping(
                    {
                        name: default_mapping(down, upstream.dimension(name))
                        for name, down in downstream.dimensions
                    }
                )
        elif isinstance(downstream, MultiPartitions):
            name = _matching_dimension(downstream, upstream)
            if name is not None:
                return DimensionMapping(name, default_mapping(downstream.dimension(name), upstream))
        elif isinstance(upstream, MultiPartitions):
            name = _matching_dimension(upstream, downstream)
            if name is not None:
                return DimensionMapping(name, default_mapping(downstream, upstream.dimension(name)))
    except DefinitionError:
        pass  # a dimension without a default: report the pair as a whole below
    raise DefinitionError(
        f"no default mapping from {upstream} to {downstream}; declare one in deps="
    )


def _reads_only_the_past(
    mapping: PartitionMapping | None, definition: PartitionsDefinition
) -> bool:
    """Whether ``mapping`` from ``definition`` to itself only reads strictly earlier windows."""
    if isinstance(mapping, TimeWindowMapping) and isinstance(definition, TimeWindowPartitions):
        # start_offset <= end_offset < 0: every read window comes before the one being made.
        return mapping.end_offset < 0
    if isinstance(mapping, MultiMapping) and isinstance(definition, MultiPartitions):
        time_dimension = definition.time_dimension
        if time_dimension is None:
            return False
        name, time_definition = time_dimension
        # Earlier in time whatever the other dimensions read: still acyclic.
        return _reads_only_the_past(mapping.declared.get(name), time_definition)
    return False


def check_self_dependency(
    mapping: PartitionMapping | None, definition: PartitionsDefinition, asset: str
) -> None:
    """DefinitionError unless an asset's dependency on itself only reads earlier partitions.

    That takes a time-partitioned asset and a ``TimeWindowMapping`` with a negative
    ``end_offset`` (for multi partitions, a ``MultiMapping`` with one on the time dimension), so
    that the partition-level graph stays acyclic.
    """
    if _reads_only_the_past(mapping, definition):
        return
    previous = "TimeWindowMapping(start_offset=-1, end_offset=-1)"
    if isinstance(definition, MultiPartitions) and definition.time_dimension is not None:
        previous = f"MultiMapping({{'{definition.time_dimension[0]}': {previous}}})"
    needs = f"deps={{'{asset}': {previous}}} (a negative offset)"
    if isinstance(definition, TimeWindowPartitions) or "MultiMapping" in previous:
        raise DefinitionError(f"asset '{asset}' depends on itself; that needs {needs}")
    raise DefinitionError(
        f"asset '{asset}' depends on itself, which only a time-partitioned asset may do, "
        f"through {needs}; it is partitioned as {definition}"
    )
