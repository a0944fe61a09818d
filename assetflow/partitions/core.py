"""Partition definitions: how an asset is sliced, and pure arithmetic over partition keys.

The kinds are :class:`Unpartitioned` (one partition, ``-``), the four time kinds
(:class:`HourlyPartitions`, :class:`DailyPartitions`, :class:`WeeklyPartitions` and
:class:`MonthlyPartitions`, on the window arithmetic of :mod:`assetflow.partitions.windows`),
:class:`StaticPartitions` and :class:`MultiPartitions`. All are frozen dataclasses, compared by
value and hashable. This module is the public one: import every name from here.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import ClassVar

from assetflow.errors import DefinitionError, PartitionError, did_you_mean
from assetflow.partitions.base import (
    UNPARTITIONED_KEY,
    PartitionsDefinition,
    check_timezone,
    range_error,
)
from assetflow.partitions.calendar import DailyPartitions, MonthlyPartitions, WeeklyPartitions
from assetflow.partitions.hourly import HourlyPartitions
from assetflow.partitions.windows import TimeWindowPartitions

__all__ = [
    "UNPARTITIONED",
    "UNPARTITIONED_KEY",
    "DailyPartitions",
    "HourlyPartitions",
    "MonthlyPartitions",
    "MultiPartitions",
    "PartitionsDefinition",
    "StaticPartitions",
    "TimeWindowPartitions",
    "Unpartitioned",
    "WeeklyPartitions",
]

_SHOWN_STATIC_KEYS = 8


@dataclass(frozen=True)
class Unpartitioned(PartitionsDefinition):
    """An asset that is not partitioned: exactly one partition, keyed ``-``."""

    kind: ClassVar[str] = "none"

    def keys(self, now: datetime | None = None) -> list[str]:
        """``["-"]``."""
        return [UNPARTITIONED_KEY]

    def count(self, now: datetime | None = None) -> int:
        """1."""
        return 1

    def canonical_key(self, key: str) -> str:
        """``-``, the only key; anything else is a PartitionError."""
        if key != UNPARTITIONED_KEY:
            raise PartitionError(
                f"{key!r} is not a partition of an unpartitioned asset "
                f"(its only partition is {UNPARTITIONED_KEY!r})"
            )
        return key

    def validate_key(self, key: str, now: datetime | None = None) -> str:
        """See :meth:`canonical_key`."""
        return self.canonical_key(key)

    def describe(self, now: datetime | None = None) -> dict[str, object]:
        """``{"kind": "none", ..., "count": 1}``."""
        return {"kind": self.kind, "start": None, "end": None, "timezone": None, "count": 1}

    def __str__(self) -> str:
        return UNPARTITIONED_KEY


UNPARTITIONED = Unpartitioned()


def static_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a static partition key (``None`` if it can).

    A key is typed on command lines, printed one per line and as ``asset[key]``, and joined
    into multi keys: so not empty, not ``-`` (the unpartitioned asset's key), no ``|`` (joins
    multi keys), no control or invisible characters (newline, tab, zero-width space), and no
    space at either end (``"eu "`` would look like ``"eu"`` everywhere it is shown).
    """
    if not key:
        return "must not be empty"
    if key == UNPARTITIONED_KEY:
        return f"is reserved: {UNPARTITIONED_KEY!r} is the key of an unpartitioned asset"
    if "|" in key:
        return "must not contain '|' (it joins the keys of multi partitions)"
    bad = next((ch for ch in key if unicodedata.category(ch).startswith("C")), None)
    if bad is not None:
        kind = "control" if unicodedata.category(bad) == "Cc" else "invisible"
        return f"must not contain the {kind} character {bad!r} (U+{ord(bad):04X})"
    if key != key.strip():
        return "must not start or end with a space"
    return None


@dataclass(frozen=True, init=False)
class StaticPartitions(PartitionsDefinition):
    """A fixed, ordered list of keys such as ``StaticPartitions(["eu", "us"])``.

    The keys are stored as ``partition_keys`` (``keys`` is the method every definition has).
    """

    kind: ClassVar[str] = "static"
    partition_keys: tuple[str, ...]

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            # A bare string is a sequence of characters; that is never what was meant.
            raise DefinitionError(f"static partitions need a list of keys, got the string {keys!r}")
        values = tuple(keys)
        if not values:
            raise DefinitionError("static partitions need at least one key")
        for key in values:
            if not isinstance(key, str):
                raise DefinitionError(f"static partition keys must be strings, got {key!r}")
            problem = static_key_problem(key)
            if problem is not None:
                raise DefinitionError(f"static partition key {key!r} {problem}")
        seen: set[str] = set()
        duplicates = sorted({key for key in values if key in seen or seen.add(key)})  # type: ignore[func-returns-value]
        if duplicates:
            raise DefinitionError(f"static partition keys repeat: {', '.join(duplicates)}")
        object.__setattr__(self, "partition_keys", values)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self.partition_keys)}

    def position(self, key: str) -> int:
        """The 0-based position of a key; PartitionError if it is not one of the keys."""
        try:
            return self._positions[key]
        except KeyError:
            hint = did_you_mean(key, self.partition_keys)
            raise PartitionError(f"{key!r} is not a partition of {self}{hint}") from None

    def keys(self, now: datetime | None = None) -> list[str]:
        """The keys, in declared order."""
        return list(self.partition_keys)

    def count(self, now: datetime | None = None) -> int:
        """The number of keys."""
        return len(self.partition_keys)

    def canonical_key(self, key: str) -> str:
        """``key`` if it is one of the keys, else PartitionError (with suggestions)."""
        self.position(key)
        return key

    def validate_key(self, key: str, now: datetime | None = None) -> str:
        """See :meth:`canonical_key`: static partitions always exist."""
        return self.canonical_key(key)

    def key_range(self, first: str, last: str, now: datetime | None = None) -> list[str]:
        """The keys from ``first`` to ``last`` in declared order, both included."""
        lo, hi = self.position(first), self.position(last)
        if lo > hi:
            raise range_error(first, last)
        return list(self.partition_keys[lo : hi + 1])

    def last_key(self, now: datetime | None = None) -> str | None:
        """The last declared key."""
        return self.partition_keys[-1]

    def describe(self, now: datetime | None = None) -> dict[str, object]:
        """``{"kind": "static", ..., "count", "keys"}``."""
        return {
            "kind": self.kind,
            "start": None,
            "end": None,
            "timezone": None,
            "count": len(self.partition_keys),
            "keys": list(self.partition_keys),
        }

    def __str__(self) -> str:
        keys = self.partition_keys
        if len(keys) <= _SHOWN_STATIC_KEYS:
            return f"static [{', '.join(keys)}]"
        shown = ", ".join(keys[: _SHOWN_STATIC_KEYS - 1])
        return f"static [{shown}, ... ({len(keys)} keys)]"


DimensionDefinition = TimeWindowPartitions | StaticPartitions


@dataclass(frozen=True, init=False)
class MultiPartitions(PartitionsDefinition):
    """The cartesian product of 2+ named dimensions, keyed like ``2024-01-31|eu``.

    Each dimension is a time or static definition, with at most one time dimension. Key parts
    follow the dimension order; in :meth:`keys` the first dimension varies slowest.
    """

    kind: ClassVar[str] = "multi"
    dimensions: tuple[tuple[str, DimensionDefinition], ...]

    def __init__(
        self,
        dimensions: Mapping[str, PartitionsDefinition] | Iterable[tuple[str, PartitionsDefinition]],
    ) -> None:
        pairs = list(dimensions.items() if isinstance(dimensions, Mapping) else dimensions)
        if len(pairs) < 2:
            raise DefinitionError("multi partitions need at least two dimensions")
        names: list[str] = []
        checked: list[tuple[str, DimensionDefinition]] = []
        for name, definition in pairs:
            if not isinstance(name, str) or not name or "|" in name:
                raise DefinitionError(
                    f"multi partition dimension names must be non-empty strings without '|', "
                    f"got {name!r}"
                )
            if name in names:
                raise DefinitionError(f"multi partition dimension {name!r} is declared twice")
            if not isinstance(definition, TimeWindowPartitions | StaticPartitions):
                raise DefinitionError(
                    f"multi partition dimension {name!r} must be time or static partitions, "
                    f"got {definition}"
                )
            names.append(name)
            checked.append((name, definition))
        times = [name for name, d in checked if isinstance(d, TimeWindowPartitions)]
        if len(times) > 1:
            raise DefinitionError(
                f"multi partitions may have one time dimension, got {', '.join(times)}"
            )
        object.__setattr__(self, "dimensions", tuple(checked))

    @property
    def names(self) -> list[str]:
        """The dimension names, in order."""
        return [name for name, _ in self.dimensions]

    def dimension(self, name: str) -> DimensionDefinition:
        """The definition of one dimension; DefinitionError naming the dimensions if unknown."""
        for dim_name, definition in self.dimensions:
            if dim_name == name:
                return definition
        raise DefinitionError(
            f"{name!r} is not a dimension of {self}{did_you_mean(name, self.names)}"
        )

    @property
    def time_dimension(self) -> tuple[str, TimeWindowPartitions] | None:
        """``(name, definition)`` of the time dimension, or ``None``."""
        for name, definition in self.dimensions:
            if isinstance(definition, TimeWindowPartitions):
                return name, definition
        return None

    def split_key(self, key: str) -> dict[str, str]:
        """``{dimension: part}`` of a key, without checking the parts."""
        parts = key.split("|")
        if len(parts) != len(self.dimensions):
            example = "|".join(_example_key(d) for _, d in self.dimensions)
            raise PartitionError(
                f"{key!r} is not a partition key of {self} "
                f"(expected {'|'.join(self.names)}, such as {example})"
            )
        return dict(zip(self.names, parts, strict=True))

    def join_key(self, parts: Mapping[str, str]) -> str:
        """The key made of one part per dimension."""
        if set(parts) != set(self.names):
            raise PartitionError(
                f"a key of {self} needs exactly the parts {', '.join(self.names)}, "
                f"got {', '.join(parts) or 'none'}"
            )
        return "|".join(parts[name] for name in self.names)

    def _check_parts(self, key: str, now: datetime | None, due: bool) -> str:
        parts = self.split_key(key)
        checked = []
        for name, definition in self.dimensions:
            try:
                if due:
                    checked.append(definition.validate_key(parts[name], now))
                else:
                    checked.append(definition.canonical_key(parts[name]))
            except PartitionError as error:
                raise PartitionError(f"{error} (dimension {name!r} of {key!r})") from None
        return "|".join(checked)

    def canonical_key(self, key: str) -> str:
        """See :meth:`PartitionsDefinition.canonical_key`, part by part."""
        return self._check_parts(key, None, due=False)

    def validate_key(self, key: str, now: datetime | None = None) -> str:
        """The canonical key if every part names an existing partition of its dimension."""
        return self._check_parts(key, now, due=True)

    def keys(self, now: datetime | None = None) -> list[str]:
        """The cartesian product of the dimensions' keys, the first dimension varying slowest."""
        per_dimension = [definition.keys(now) for _, definition in self.dimensions]
        # The product depends only on how many keys each dimension has: remember the last one.
        counts = tuple(len(keys) for keys in per_dimension)
        memo = self.__dict__.get("_keys_memo")
        if memo is None or memo[0] != counts:
            memo = (counts, tuple("|".join(parts) for parts in itertools.product(*per_dimension)))
            self.__dict__["_keys_memo"] = memo
        return list(memo[1])

    def count(self, now: datetime | None = None) -> int:
        """The product of the dimensions' counts."""
        total = 1
        for _, definition in self.dimensions:
            total *= definition.count(now)
        return total

    def key_range(self, first: str, last: str, now: datetime | None = None) -> list[str]:
        """Every key whose parts lie between those of ``first`` and ``last``, per dimension.

        A range over a grid is a box: ``2024-01-01|eu`` to ``2024-01-31|us`` is every day of
        January for every region from eu to us, in :meth:`keys` order.
        """
        lo, hi = self.split_key(first), self.split_key(last)
        per_dimension = []
        for name, definition in self.dimensions:
            try:
                per_dimension.append(definition.key_range(lo[name], hi[name], now))
            except PartitionError as error:
                raise PartitionError(
                    f"{error} (dimension {name!r} of --from {first} --to {last})"
                ) from None
        return ["|".join(parts) for parts in itertools.product(*per_dimension)]

    def last_key(self, now: datetime | None = None) -> str | None:
        """The last key of every dimension joined, or ``None`` if a dimension has none yet."""
        parts = [definition.last_key(now) for _, definition in self.dimensions]
        if any(part is None for part in parts):
            return None
        return "|".join(part for part in parts if part is not None)

    def describe(self, now: datetime | None = None) -> dict[str, object]:
        """Start, end and timezone of the time dimension (if any), the count and each dimension."""
        time_dimension = self.time_dimension
        time_info = time_dimension[1].describe(now) if time_dimension else {}
        return {
            "kind": self.kind,
            "start": time_info.get("start"),
            "end": time_info.get("end"),
            "timezone": time_info.get("timezone"),
            "count": self.count(now),
            "dimensions": {name: d.describe(now) for name, d in self.dimensions},
        }

    def __str__(self) -> str:
        return "multi [" + ", ".join(f"{name}: {d}" for name, d in self.dimensions) + "]"

    def with_default_timezone(self, tz: str) -> MultiPartitions:
        """A copy whose time dimension gets ``tz`` if its timezone is unset."""
        check_timezone(tz)
        dimensions = [(name, _with_tz(d, tz)) for name, d in self.dimensions]
        if all(new is old for (_, new), (_, old) in zip(dimensions, self.dimensions, strict=True)):
            return self
        return MultiPartitions(dimensions)


def _with_tz(definition: DimensionDefinition, tz: str) -> DimensionDefinition:
    if isinstance(definition, TimeWindowPartitions):
        return definition.with_default_timezone(tz)
    return definition


def _example_key(definition: DimensionDefinition) -> str:
    if isinstance(definition, TimeWindowPartitions):
        return definition.key_at(0)
    return definition.partition_keys[0]


def time_window_of(definition: PartitionsDefinition, key: str) -> tuple[datetime, datetime] | None:
    """The time window of a partition key (the time dimension's, for multi partitions)."""
    if isinstance(definition, TimeWindowPartitions):
        return definition.time_window(key)
    if isinstance(definition, MultiPartitions) and definition.time_dimension:
        name, dimension = definition.time_dimension
        return dimension.time_window(definition.split_key(key)[name])
    return None
