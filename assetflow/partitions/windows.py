"""Time-window partitions: the window arithmetic shared by the four time kinds.

A time definition is a sequence of consecutive windows numbered from 0 at ``start``. Every
operation goes through that index: ``index_of`` parses a key, ``key_at``/``window_at`` go back, and
``index_containing`` finds the window of an instant, each in constant time. Keys name a window by
its start in the definition's timezone.

The kinds are in :mod:`assetflow.partitions.calendar` (daily, weekly and monthly: local midnight
to local midnight) and :mod:`assetflow.partitions.hourly`; import all of them from
:mod:`assetflow.partitions.core`.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, date, datetime
from functools import cached_property
from typing import ClassVar
from zoneinfo import ZoneInfo

from assetflow.errors import DefinitionError, PartitionError
from assetflow.partitions.base import PartitionsDefinition, aware_now, check_timezone, range_error

# Keys requested further than this beyond the end of a definition's key cache are not cached.
_MAX_CACHE_GAP = 100_000

Bound = str | date | datetime


def as_utc(instant: datetime) -> datetime:
    """An aware instant converted to UTC.

    Aware datetimes that share a tzinfo compare and subtract by wall time, ignoring DST offsets,
    so all instant arithmetic here happens in UTC.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


class TimeWindowPartitions(PartitionsDefinition):
    """Base of the four time kinds: consecutive windows from ``start`` up to an exclusive ``end``.

    ``timezone`` may be ``None``, meaning the project's default (see
    :meth:`with_default_timezone`); until it is filled in the definition behaves as UTC. A time
    partition exists once its window has fully ended (a day is due once it is over), or up to
    ``end``.
    """

    start: date
    end: date | None
    timezone: str | None
    key_format: ClassVar[str]

    def __init__(self, start: Bound, end: Bound | None = None, timezone: str | None = None) -> None:
        tz = None if timezone is None else check_timezone(timezone)
        first = self._normalize_bound(start, "start", tz)
        last = None if end is None else self._normalize_bound(end, "end", tz)
        if last is not None and last <= first:
            raise DefinitionError(
                f"end {self._bound_text(last)} is not after start {self._bound_text(first)} "
                f"of {self.kind} partitions"
            )
        # Frozen dataclass: fields can only be set through object.__setattr__ during __init__.
        object.__setattr__(self, "start", first)
        object.__setattr__(self, "end", last)
        object.__setattr__(self, "timezone", tz)

    # -- what each kind provides -------------------------------------------------------------

    @classmethod
    @abstractmethod
    def _normalize_bound(cls, value: Bound, what: str, tz: str | None) -> date:
        """``start``/``end`` as the stored value, or :class:`DefinitionError`."""

    @classmethod
    @abstractmethod
    def _bound_text(cls, value: date) -> str:
        """A stored bound written like a key."""

    @abstractmethod
    def _parse_index(self, key: str) -> int:
        """The window index a key names, without bounds checks; PartitionError if unparsable."""

    @abstractmethod
    def key_at(self, index: int) -> str:
        """The key of window ``index`` (the inverse of :meth:`index_of`); no bounds check."""

    @abstractmethod
    def window_at(self, index: int) -> tuple[datetime, datetime]:
        """Window ``index`` as ``[start, end)`` aware datetimes in the timezone; no bounds check.

        Compare or subtract them as instants only after converting to UTC: Python compares two
        datetimes sharing a tzinfo by wall time.
        """

    @abstractmethod
    def index_containing(self, instant: datetime) -> int:
        """Index of the window holding the aware ``instant`` (may be negative or past the end)."""

    @abstractmethod
    def total(self) -> int | None:
        """The number of windows before ``end``, or ``None`` if open-ended."""

    # -- shared arithmetic -------------------------------------------------------------------

    @cached_property
    def zone(self) -> ZoneInfo:
        """The timezone in effect (UTC while the project default is not filled in)."""
        return ZoneInfo(self.timezone or "UTC")

    def index_of(self, key: str) -> int:
        """The index of the window ``key`` names: 0 is the first window.

        Raises :class:`PartitionError` if the key does not parse or lies before ``start`` or at or
        after ``end``; it does not check that the window is due.
        """
        index = self._parse_index(key)
        if index < 0:
            raise PartitionError(
                f"{key!r} is before the start {self._bound_text(self.start)} "
                f"of {self.kind} partitions"
            )
        total = self.total()
        if total is not None and index >= total:
            end = self._bound_text(self.end) if self.end is not None else ""
            raise PartitionError(
                f"{key!r} is at or after the end {end} of {self.kind} partitions "
                "(the end is exclusive)"
            )
        return index

    def time_window(self, key: str) -> tuple[datetime, datetime]:
        """The ``[start, end)`` window a key names, as aware datetimes in the timezone."""
        return self.window_at(self.index_of(key))

    def due_count(self, now: datetime | None = None) -> int:
        """How many windows have fully ended by ``now`` (window end <= now), capped at ``end``."""
        # Planners ask again and again with one `now`: remember the last answer.
        # (Same wall time and same offset: datetimes sharing a tzinfo compare by wall time.)
        memo = self.__dict__.get("_due_memo")
        if (
            now is not None
            and memo is not None
            and memo[0] == now
            and memo[0].utcoffset() == now.utcoffset()
        ):
            return int(memo[1])
        # Every window before the one holding `now` has ended, including one ending exactly at now.
        count = max(0, self.index_containing(aware_now(now)))
        total = self.total()
        if total is not None:
            count = min(count, total)
        if now is not None:
            self.__dict__["_due_memo"] = (now, count)
        return count

    def shift_to(self, other: TimeWindowPartitions) -> int | None:
        """``k`` such that window ``i`` here is window ``i + k`` of ``other``, if there is one.

        There is one when both are the same kind in the same timezone with aligned starts (the
        common case); mappings then take one addition per key.
        """
        memo: dict[int, tuple[TimeWindowPartitions, int | None]]
        memo = self.__dict__.setdefault("_shift_memo", {})
        # Keyed by identity (hashing a definition costs more than the lookup saves); the entry
        # holds `other` so that its id cannot be reused by another object.
        known = memo.get(id(other))
        if known is not None and known[0] is other:
            return known[1]
        shift: int | None = None
        if type(self) is type(other) and self.zone.key == other.zone.key:
            start = self.window_at(0)[0]
            shift = other.index_containing(start)
            if as_utc(other.window_at(shift)[0]) != as_utc(start):
                shift = None
        memo[id(other)] = (other, shift)
        return shift

    def canonical_key(self, key: str) -> str:
        """See :meth:`PartitionsDefinition.canonical_key`."""
        return self.key_at(self.index_of(key))

    def validate_key(self, key: str, now: datetime | None = None) -> str:
        """The canonical key if it names a due window within bounds, else PartitionError."""
        return self.key_at(self._due_index(key, now))

    def _due_index(self, key: str, now: datetime | None) -> int:
        index = self.index_of(key)
        due = self.due_count(now)
        if index >= due:
            try:
                ends = (
                    f"its window ends at {self.window_at(index)[1].isoformat(timespec='minutes')}"
                )
            except (ValueError, OverflowError):  # past year 9999
                ends = "its window never ends"
            latest = f"the latest is {self.key_at(due - 1)}" if due else "none is due yet"
            raise PartitionError(
                f"{key!r} is not due yet: {ends} "
                f"({self._a_kind} partition is due once its window is over; {latest})"
            )
        return index

    def keys(self, now: datetime | None = None) -> list[str]:
        """Every due key, oldest first."""
        return self.key_slice(0, self.due_count(now))

    def key_slice(self, lo: int, hi: int) -> list[str]:
        """The keys of windows ``lo <= index < hi``; indexes below 0 are skipped, ``end`` is not.

        Keys depend only on their index, so each definition caches them in one growing tuple,
        shared by every ``now``. The cache lives in the instance dict (like cached_property),
        outside the dataclass fields, equality, hash and pickled state; threads racing to extend
        it only duplicate work.
        """
        lo = max(lo, 0)
        if hi <= lo:
            return []
        cache: tuple[str, ...] = self.__dict__.get("_key_cache", ())
        if hi > len(cache):
            if lo - len(cache) > max(len(cache), _MAX_CACHE_GAP):
                return self._make_keys(lo, hi)  # far beyond the cache: do not fill the gap
            # Grow geometrically so that extending one key at a time stays linear overall.
            target = max(hi, 2 * len(cache), 256)
            total = self.total()
            if total is not None:
                target = min(target, max(total, hi))
            cache = cache + tuple(self._make_keys(len(cache), target))
            self.__dict__["_key_cache"] = cache
        return list(cache[lo:hi])

    def _make_keys(self, lo: int, hi: int) -> list[str]:
        return [self.key_at(i) for i in range(lo, hi)]

    def count(self, now: datetime | None = None) -> int:
        """How many windows are due as of ``now``."""
        return self.due_count(now)

    def key_range(self, first: str, last: str, now: datetime | None = None) -> list[str]:
        """The due keys from ``first`` to ``last``, both included; PartitionError if reversed."""
        lo = self._due_index(first, now)
        hi = self._due_index(last, now)
        if lo > hi:
            raise range_error(first, last)
        return self.key_slice(lo, hi + 1)

    def last_key(self, now: datetime | None = None) -> str | None:
        """The latest due key, or ``None`` if no window has ended yet."""
        due = self.due_count(now)
        return self.key_at(due - 1) if due else None

    def describe(self, now: datetime | None = None) -> dict[str, object]:
        """``{"kind", "start", "end", "timezone", "count"}`` with bounds written like keys."""
        return {
            "kind": self.kind,
            "start": self._bound_text(self.start),
            "end": None if self.end is None else self._bound_text(self.end),
            "timezone": self.zone.key,
            "count": self.due_count(now),
        }

    def __str__(self) -> str:
        until = "" if self.end is None else f" until {self._bound_text(self.end)}"
        return f"{self.kind} from {self._bound_text(self.start)}{until} ({self.zone.key})"

    def with_default_timezone(self, tz: str) -> TimeWindowPartitions:
        """A copy with ``timezone=tz`` if it was unset, else self."""
        check_timezone(tz)
        if self.timezone is not None:
            return self
        return type(self)(self.start, self.end, tz)

    @property
    def _a_kind(self) -> str:
        return ("an " if self.kind == "hourly" else "a ") + self.kind

    def _unparsable(self, key: str, why: str = "") -> PartitionError:
        return PartitionError(
            f"{key!r} is not {self._a_kind} partition key (expected {self.key_format}){why}"
        )


def local_wall(value: datetime, what: str, kind: str, tz: str | None) -> datetime:
    """A datetime ``start``/``end`` as a naive wall time in ``tz``, else DefinitionError."""
    if value.tzinfo is None:
        return value
    if tz is None:
        raise DefinitionError(
            f"{what} {value.isoformat()} of {kind} partitions is timezone-aware but no timezone= "
            "was given; pass a naive wall time or a timezone"
        )
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
