"""The interface every partition definition implements, and the small helpers they share.

Import the public names from :mod:`assetflow.partitions.core`; this module exists so that the
time kinds (:mod:`assetflow.partitions.windows`) and the other kinds can share a base without a
circular import.
"""

from __future__ import annotations

import zoneinfo
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import ClassVar

from assetflow.errors import DefinitionError, PartitionError, did_you_mean

UNPARTITIONED_KEY = "-"


class PartitionsDefinition(ABC):
    """How an asset is sliced into partitions, each named by a string key.

    Definitions are frozen dataclasses: hashable and compared by value, so two definitions declared
    the same way are equal. Every method is pure; ``now`` (an aware datetime, ``None`` meaning the
    current time) only decides which time partitions are due yet.
    """

    kind: ClassVar[str]

    @abstractmethod
    def keys(self, now: datetime | None = None) -> list[str]:
        """Every existing key, in order (time partitions: oldest first)."""

    def count(self, now: datetime | None = None) -> int:
        """How many partitions exist as of ``now``."""
        return len(self.keys(now))

    @abstractmethod
    def canonical_key(self, key: str) -> str:
        """The canonical form of ``key`` if it parses and lies within the definition's bounds.

        Unlike :meth:`validate_key` this does not check that a time partition is due yet: mappings
        use it to name upstream partitions that will exist later. Raises :class:`PartitionError`.
        """

    @abstractmethod
    def validate_key(self, key: str, now: datetime | None = None) -> str:
        """The canonical form of an existing key, else PartitionError naming key and definition."""

    def has_key(self, key: str, now: datetime | None = None) -> bool:
        """Whether ``key`` names a partition that exists as of ``now``."""
        try:
            self.validate_key(key, now)
        except PartitionError:
            return False
        return True

    def key_range(self, first: str, last: str, now: datetime | None = None) -> list[str]:
        """The existing keys from ``first`` to ``last``, both included and both validated."""
        first_key = self.validate_key(first, now)
        last_key = self.validate_key(last, now)
        keys = self.keys(now)
        lo, hi = keys.index(first_key), keys.index(last_key)
        if lo > hi:
            raise range_error(first, last)
        return keys[lo : hi + 1]

    def last_key(self, now: datetime | None = None) -> str | None:
        """The latest existing key, or ``None`` when no partition exists yet."""
        keys = self.keys(now)
        return keys[-1] if keys else None

    @abstractmethod
    def describe(self, now: datetime | None = None) -> dict[str, object]:
        """A JSON-serializable summary: kind, start, end, timezone and count (and more per kind)."""

    @abstractmethod
    def __str__(self) -> str:
        """A short human form such as ``daily from 2024-01-01 (UTC)``."""

    def __getstate__(self) -> dict[str, object]:
        # Pickle (for process executors) only the declared fields: the caches kept beside them
        # in the instance dict can be large and are cheap to rebuild.
        fields = getattr(self, "__dataclass_fields__", {})
        return {name: value for name, value in self.__dict__.items() if name in fields}

    def with_default_timezone(self, tz: str) -> PartitionsDefinition:
        """A copy whose unset timezone is ``tz`` (the project default); kinds without one: self."""
        check_timezone(tz)
        return self


def range_error(first: str, last: str) -> PartitionError:
    """The error for an inclusive range whose first key comes after its last."""
    return PartitionError(f"--from {first} is after --to {last}")


def check_timezone(name: object) -> str:
    """``name`` if it is a known IANA timezone, else :class:`DefinitionError` with suggestions."""
    if not isinstance(name, str):
        raise DefinitionError(f"timezone must be an IANA name such as 'UTC', got {name!r}")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # Listing every zone reads the whole tz database, so only do it to explain an error.
        hint = did_you_mean(name, zoneinfo.available_timezones())
        raise DefinitionError(f"unknown timezone {name!r}{hint}") from None
    return name


def aware_now(now: datetime | None) -> datetime:
    """``now`` as an aware datetime; ``None`` means the current time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        # A naive datetime has no single meaning across timezones; guessing would shift due-ness.
        raise ValueError(f"now must be a timezone-aware datetime, got naive {now.isoformat()}")
    return now
