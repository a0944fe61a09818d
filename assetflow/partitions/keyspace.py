"""Existing partition keys as an index space: key ↔ index arithmetic, and lazy key sequences.

The existing keys of a definition at a moment are numbered ``0 .. count - 1`` in
:meth:`~assetflow.partitions.base.PartitionsDefinition.keys` order. Time kinds already work
through that index; static keys by position; multi keys in mixed radix (the first dimension
varies slowest). So a reader can count, test membership and slice a million keys without
making a million strings: :class:`KeySequence` is that sequence, computed on demand, and
:func:`layout_of` describes the same numbering as plain data, for readers that compute it
elsewhere (the state store, in SQL).

Small definitions (up to :data:`LISTED_KEYS` keys) keep their plain key list: for them a
list and a dict are faster than arithmetic, and every reader sees the same order either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple, overload

from assetflow.errors import PartitionError
from assetflow.partitions.core import (
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
    Unpartitioned,
)

# Up to this many existing keys, a definition's keys are listed (``keys()``); beyond, they are
# a KeySequence. Read at call time, so tests can lower it to exercise the arithmetic.
LISTED_KEYS = 20_000
_CHUNK = 4096
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})


def key_count(definition: PartitionsDefinition, now: datetime) -> int:
    """How many keys exist at ``now``."""
    return definition.count(now)


def index_of(definition: PartitionsDefinition, key: str, now: datetime) -> int | None:
    """The index of ``key`` among the keys existing at ``now``, or None if it is not one of
    them (also when it is not in canonical form)."""
    if isinstance(definition, TimeWindowPartitions):
        try:
            index = definition._parse_index(key)
        except PartitionError:
            return None
        if not 0 <= index < definition.due_count(now):
            return None
        return index if definition.key_at(index) == key else None
    if isinstance(definition, StaticPartitions):
        return definition._positions.get(key)
    if isinstance(definition, MultiPartitions):
        parts = key.split("|")
        if len(parts) != len(definition.dimensions):
            return None
        index = 0
        for part, (_, dimension) in zip(parts, definition.dimensions, strict=True):
            found = index_of(dimension, part, now)
            if found is None:
                return None
            index = index * dimension.count(now) + found
        return index
    if isinstance(definition, Unpartitioned):
        return 0 if key == "-" else None
    keys = definition.keys(now)  # another kind: by its own list
    try:
        return keys.index(key)
    except ValueError:
        return None


def key_at(definition: PartitionsDefinition, index: int, now: datetime) -> str:
    """The key of existing index ``index`` (no bounds check for time kinds)."""
    if isinstance(definition, TimeWindowPartitions):
        return definition.key_at(index)
    if isinstance(definition, StaticPartitions):
        return definition.partition_keys[index]
    if isinstance(definition, MultiPartitions):
        parts: list[str] = []
        for _, dimension in reversed(definition.dimensions):
            index, part = divmod(index, dimension.count(now))
            parts.append(key_at(dimension, part, now))
        return "|".join(reversed(parts))
    return definition.keys(now)[index]


def keys_between(definition: PartitionsDefinition, lo: int, hi: int, now: datetime) -> list[str]:
    """The keys of existing indexes ``lo <= i < hi``, in order."""
    lo, hi = max(lo, 0), min(hi, key_count(definition, now))
    if hi <= lo:
        return []
    if isinstance(definition, TimeWindowPartitions):
        if definition.due_count(now) <= LISTED_KEYS:
            return definition.key_slice(lo, hi)
        return definition._make_keys(lo, hi)  # not cached: a million keys would stay in memory
    if isinstance(definition, StaticPartitions):
        return list(definition.partition_keys[lo:hi])
    if isinstance(definition, MultiPartitions):
        return _multi_keys(definition, lo, hi, now)
    return definition.keys(now)[lo:hi]


def _multi_keys(definition: MultiPartitions, lo: int, hi: int, now: datetime) -> list[str]:
    dimensions = [dimension for _, dimension in definition.dimensions]
    head, rest = dimensions[0], dimensions[1:]
    stride = 1
    for dimension in rest:
        stride *= dimension.count(now)
    if stride == 0:
        return []
    tails = ["|".join(parts) for parts in itertools.product(*(d.keys(now) for d in rest))]
    found: list[str] = []
    first, last = lo // stride, (hi - 1) // stride
    for i, part in enumerate(keys_between(head, first, last + 1, now), start=first):
        start = max(lo - i * stride, 0)
        end = min(hi - i * stride, stride)
        prefix = part + "|"
        found.extend([prefix + tail for tail in tails[start:end]])
    return found


def existing_keys(definition: PartitionsDefinition, now: datetime) -> Sequence[str]:
    """The keys existing at ``now``: a list when there are few, else a :class:`KeySequence`."""
    total = key_count(definition, now)
    if total <= LISTED_KEYS:
        return definition.keys(now)
    return KeySequence(definition, now, 0, total)


class KeySequence(Sequence[str]):
    """The existing keys ``lo <= index < hi`` of a definition at a moment, made on demand.

    Length, indexing, membership and :meth:`index` are arithmetic; iterating makes the keys
    in chunks. Compares equal to any sequence of the same keys.
    """

    def __init__(self, definition: PartitionsDefinition, now: datetime, lo: int, hi: int) -> None:
        self.definition = definition
        self.now = now
        self.lo = lo
        self.hi = max(hi, lo)

    def __len__(self) -> int:
        return self.hi - self.lo

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return KeySequence(self.definition, self.now, self.lo + start, self.lo + stop)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return key_at(self.definition, self.lo + index, self.now)

    def __iter__(self) -> Iterator[str]:
        for start in range(self.lo, self.hi, _CHUNK):
            yield from keys_between(self.definition, start, min(start + _CHUNK, self.hi), self.now)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.position(key) is not None

    def position(self, key: str) -> int | None:
        """The index of ``key`` in this sequence, or None."""
        found = index_of(self.definition, key, self.now)
        if found is None or not self.lo <= found < self.hi:
            return None
        return found - self.lo

    def index(self, value: object, start: int = 0, stop: int | None = None) -> int:
        found = self.position(value) if isinstance(value, str) else None
        end = len(self) if stop is None else stop
        if found is None or not start <= found < end:
            raise ValueError(f"{value!r} is not in the sequence")
        return found

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeySequence) and (other.definition, other.now) == (
            self.definition,
            self.now,
        ):
            return (other.lo, other.hi) == (self.lo, self.hi)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeySequence({self.definition}, [{self.lo}, {self.hi}))"


class Layout(NamedTuple):
    """How the index of an existing key follows from the key alone, as plain data.

    ``unit`` is ``none`` (the one key ``-``), ``list`` (``keys``, by position), ``day``,
    ``week``, ``month`` (keys are dates, ``start`` the first key), ``hour`` (UTC wall times
    ``YYYY-MM-DDTHH:MM``) or ``multi`` (``parts``, mixed radix, the first slowest). A key is an
    existing key when it is written exactly as the index's key and ``0 <= index < size``
    (per part, for multi).
    """

    unit: str
    size: int  # how many keys exist
    start: str = ""
    keys: tuple[str, ...] = ()
    parts: tuple[Layout, ...] = ()  # a NamedTuple: no dataclass to build at import


def layout_of(definition: PartitionsDefinition, now: datetime) -> Layout | None:
    """The :class:`Layout` of ``definition``'s keys at ``now``, or None when keys are not
    that simple (hourly keys outside UTC carry offsets; years before 1000 are not 4 digits)."""
    if isinstance(definition, Unpartitioned):
        return Layout("none", 1)
    if isinstance(definition, StaticPartitions):
        return Layout("list", len(definition.partition_keys), keys=definition.partition_keys)
    if isinstance(definition, MultiPartitions):
        parts = [layout_of(dimension, now) for _, dimension in definition.dimensions]
        if any(part is None for part in parts):
            return None
        known = tuple(part for part in parts if part is not None)
        total = 1
        for part in known:
            total *= part.size
        return Layout("multi", total, parts=known)
    if not isinstance(definition, TimeWindowPartitions) or definition.start.year < 1000:
        return None
    unit = {"daily": "day", "weekly": "week", "monthly": "month", "hourly": "hour"}.get(
        definition.kind
    )
    if unit is None or (unit == "hour" and definition.zone.key not in _UTC_NAMES):
        return None
    return Layout(unit, definition.due_count(now), start=definition.key_at(0))
