"""The mapping interface and the mappings between two single (non-multi) definitions.

Import the public names from :mod:`assetflow.mappings.core`, which describes what a mapping answers
and adds the multi-dimensional mappings and the defaults.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from assetflow.errors import DefinitionError, PartitionError
from assetflow.partitions.calendar import CalendarPartitions
from assetflow.partitions.core import (
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
)
from assetflow.partitions.windows import as_utc


class PartitionMapping(ABC):
    """Which upstream partitions a downstream partition depends on (frozen, hashable)."""

    @abstractmethod
    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The upstream keys ``downstream_key`` reads, in upstream order, within upstream bounds."""

    @abstractmethod
    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """Every downstream key existing at ``now`` whose upstream keys include ``upstream_key``."""

    def validate(  # noqa: B027 - most mappings apply to any pair; those that do not override
        self, downstream: PartitionsDefinition, upstream: PartitionsDefinition
    ) -> None:
        """DefinitionError if this mapping cannot apply to these two definitions."""

    @abstractmethod
    def describe(self) -> str:
        """A short human form such as ``time_window(-1, -1)``."""

    def __str__(self) -> str:
        return self.describe()


def _sort_position(definition: PartitionsDefinition, key: str) -> tuple[int, ...]:
    """Where a canonical key sits in the definition's order."""
    if isinstance(definition, TimeWindowPartitions):
        return (definition.index_of(key),)
    if isinstance(definition, StaticPartitions):
        return (definition.position(key),)
    if isinstance(definition, MultiPartitions):
        parts = definition.split_key(key)
        return tuple(
            _sort_position(dimension, parts[name])[0] for name, dimension in definition.dimensions
        )
    return (0,)


def ordered_keys(
    definition: PartitionsDefinition, keys: Iterable[str], now: datetime | None, existing: bool
) -> list[str]:
    """``keys`` canonical, deduplicated and in definition order, dropping those outside it.

    With ``existing``, keys that do not exist yet at ``now`` are dropped too.
    """
    found: set[str] = set()
    for key in keys:
        try:
            found.add(
                definition.validate_key(key, now) if existing else definition.canonical_key(key)
            )
        except PartitionError:
            continue
    return sorted(found, key=lambda key: _sort_position(definition, key))


def product_keys(per_dimension: Sequence[Sequence[str]]) -> list[str]:
    """Multi-partition keys: the cartesian product of per-dimension keys, the first slowest."""
    return ["|".join(parts) for parts in itertools.product(*per_dimension)]


def _same_key_space(a: PartitionsDefinition, b: PartitionsDefinition) -> bool:
    """Whether a key of one names the matching partition of the other."""
    if type(a) is not type(b):
        return False
    if isinstance(a, TimeWindowPartitions) and isinstance(b, TimeWindowPartitions):
        return a.zone.key == b.zone.key
    if isinstance(a, MultiPartitions) and isinstance(b, MultiPartitions):
        return a.names == b.names and all(
            _same_key_space(da, db)
            for (_, da), (_, db) in zip(a.dimensions, b.dimensions, strict=True)
        )
    return True


@dataclass(frozen=True)
class IdentityMapping(PartitionMapping):
    """Each downstream partition reads the upstream partition with the same key."""

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """``[downstream_key]`` if upstream has it within its bounds, else ``[]``."""
        try:
            return [upstream.canonical_key(downstream_key)]
        except PartitionError:
            return []

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """``[upstream_key]`` if that downstream partition exists at ``now``, else ``[]``."""
        try:
            return [downstream.validate_key(upstream_key, now)]
        except PartitionError:
            return []

    def validate(self, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
        """Both sides must share one kind of key (same kind, same timezone, same dimensions)."""
        if downstream != upstream and not _same_key_space(downstream, upstream):
            raise DefinitionError(
                f"the identity mapping needs the same kind of partitions on both sides, "
                f"got {upstream} upstream and {downstream} downstream"
            )

    def describe(self) -> str:
        """``identity``."""
        return "identity"


def _overlapping(
    target: TimeWindowPartitions, source: TimeWindowPartitions, first: int, last: int
) -> tuple[int, int]:
    """First and last index of ``target``'s windows overlapping windows first..last of ``source``.

    No bounds checks: either index may fall outside ``target``.
    """
    if (
        isinstance(target, CalendarPartitions)
        and isinstance(source, CalendarPartitions)
        and target.zone.key == source.zone.key
    ):
        # Both run from local midnight to local midnight: overlap of dates is overlap of time,
        # and date arithmetic is several times faster than converting instants.
        end = source.date_at(last + 1) - timedelta(days=1)
        return target.index_of_date(source.date_at(first)), target.index_of_date(end)
    start, end = source.window_at(first)[0], source.window_at(last)[1]
    lo = target.index_containing(start)
    hi = target.index_containing(end)
    # The window holding `end` overlaps only if it starts before `end`.
    if hi > lo and as_utc(target.window_at(hi)[0]) >= as_utc(end):
        hi -= 1
    return lo, hi


def _time_pair(
    mapping: PartitionMapping, downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> tuple[TimeWindowPartitions, TimeWindowPartitions]:
    if not (
        isinstance(downstream, TimeWindowPartitions) and isinstance(upstream, TimeWindowPartitions)
    ):
        raise DefinitionError(
            f"{mapping.describe()} needs time partitions on both sides, "
            f"got {upstream} upstream and {downstream} downstream"
        )
    return downstream, upstream


@dataclass(frozen=True)
class TimeWindowMapping(PartitionMapping):
    """Time to time: the upstream windows overlapping the downstream window, shifted.

    The downstream window's start moves by ``start_offset`` and its end by ``end_offset``, both
    counted in downstream partitions (as in Dagster's ``TimeWindowPartitionMapping``); every
    upstream window overlapping the shifted window is read. ``TimeWindowMapping(-1, -1)``
    between two daily definitions is the previous day, ``TimeWindowMapping(-6, 0)`` the last
    seven days; a monthly ``2024-02`` reading daily with ``(-1, 0)`` reads January and February
    (``2024-01-01`` to ``2024-02-29``), and a daily ``2024-03-15`` reading monthly with
    ``(-1, -1)`` reads the month of the day before, ``2024-03``. The result is clipped to the
    upstream bounds and may be empty (the day before the first day).
    """

    start_offset: int = 0
    end_offset: int = 0

    def __post_init__(self) -> None:
        for value in (self.start_offset, self.end_offset):
            if not isinstance(value, int) or isinstance(value, bool):
                raise DefinitionError(f"time window offsets must be integers, got {value!r}")
        if self.start_offset > self.end_offset:
            raise DefinitionError(
                f"{self.describe()}: start_offset must not be greater than end_offset"
            )

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The shifted overlapping upstream keys within upstream bounds (due or not)."""
        down, up = _time_pair(self, downstream, upstream)
        index = down.index_of(downstream_key)
        # The shifted window is downstream windows index + start_offset .. index + end_offset
        # (they are contiguous), which may reach before the downstream start: no bounds there.
        lo, hi = index + self.start_offset, index + self.end_offset
        shift = down.shift_to(up)
        if shift is not None:
            first, last = lo + shift, hi + shift
        else:
            first, last = _overlapping(up, down, lo, hi)
        end = last + 1
        total = up.total()
        if total is not None:
            end = min(end, total)
        return up.key_slice(first, end)

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """The existing downstream keys whose shifted windows include ``upstream_key``."""
        down, up = _time_pair(self, downstream, upstream)
        index = up.index_of(upstream_key)
        # Downstream d reads upstream u iff one of the downstream windows d + start_offset ..
        # d + end_offset overlaps u, i.e. iff that range meets [F, L], the downstream windows
        # overlapping u: iff F - end_offset <= d <= L - start_offset.
        shift = down.shift_to(up)
        if shift is not None:
            first = last = index - shift
        else:
            first, last = _overlapping(down, up, index, index)
        return down.key_slice(
            first - self.end_offset, min(last - self.start_offset + 1, down.due_count(now))
        )

    def validate(self, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
        """Both sides must be time partitions."""
        _time_pair(self, downstream, upstream)

    def describe(self) -> str:
        """``time_window(start_offset, end_offset)``."""
        return f"time_window({self.start_offset}, {self.end_offset})"


@dataclass(frozen=True)
class AllPartitionsMapping(PartitionMapping):
    """Each downstream partition reads every upstream partition existing at ``now``."""

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """Every existing upstream key."""
        return upstream.keys(now)

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """Every existing downstream key, if ``upstream_key`` exists."""
        return downstream.keys(now) if upstream.has_key(upstream_key, now) else []

    def describe(self) -> str:
        """``all``."""
        return "all"


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Each downstream partition reads the latest upstream partition existing at ``now``."""

    def upstream_keys(
        self,
        downstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """``[latest upstream key]``, or ``[]`` if none exists yet."""
        last = upstream.last_key(now)
        return [] if last is None else [last]

    def downstream_keys(
        self,
        upstream_key: str,
        downstream: PartitionsDefinition,
        upstream: PartitionsDefinition,
        now: datetime | None = None,
    ) -> list[str]:
        """Every existing downstream key, if ``upstream_key`` is the latest upstream key."""
        try:
            key = upstream.canonical_key(upstream_key)
        except PartitionError:
            return []
        return downstream.keys(now) if key == upstream.last_key(now) else []

    def describe(self) -> str:
        """``last``."""
        return "last"
