"""Hourly partitions: consecutive absolute hours from the start instant.

Because the windows are absolute hours they tile across daylight-saving changes: a spring-forward
day has 23 of them, a fall-back day 25, and the two windows that start at the same repeated wall
time carry their UTC offset in their keys (``2024-11-03T01:00-04:00``). In a zone whose offset
changes by half an hour (Australia/Lord_Howe) the windows after such a change start at half past
the hour and their keys say so (``2024-04-07T02:30``): correct, but unusual. Import the public
names from :mod:`assetflow.partitions.core`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as fixed_offset
from functools import cached_property
from typing import ClassVar

from assetflow.errors import DefinitionError, PartitionError
from assetflow.partitions.windows import Bound, TimeWindowPartitions, as_utc, local_wall

_HOUR = timedelta(hours=1)
# Hourly keys near an offset change (within a day, in hours) get the exact ambiguity check.
_NEAR_CHANGE = 25
_TWO_DIGITS = [f"{n:02d}" for n in range(60)]
_HOUR_TEXTS = [f"{n:02d}:00" for n in range(24)]
_HOUR_KEY_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?:([+-])([0-9]{2}):([0-9]{2}))?"
)
_HOUR_BOUND_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::00)?)?")


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _wall_text(wall: datetime) -> str:
    return f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}T{wall.hour:02d}:{wall.minute:02d}"


@dataclass(frozen=True, init=False)
class HourlyPartitions(TimeWindowPartitions):
    """One partition per absolute hour from ``start``, keyed ``2024-01-31T13:00`` (local wall time).

    ``start`` and ``end`` are stored as naive wall times in the timezone. The two partitions
    starting at a wall time that repeats on a fall-back day carry their UTC offset
    (``2024-11-03T01:00-04:00`` and ``2024-11-03T01:00-05:00``); keys are accepted with or without
    an offset where it is not needed.
    """

    kind: ClassVar[str] = "hourly"
    key_format: ClassVar[str] = "YYYY-MM-DDTHH:MM, with a UTC offset such as -04:00 if ambiguous"
    start: datetime
    end: datetime | None
    timezone: str | None

    @classmethod
    def _normalize_bound(cls, value: Bound, what: str, tz: str | None) -> datetime:
        if isinstance(value, str):
            match = _HOUR_BOUND_RE.fullmatch(value)
            try:
                if match is None:
                    raise ValueError
                wall = datetime.fromisoformat(match[1])
                if match[2] is not None:
                    wall = wall.replace(hour=int(match[2]), minute=int(match[3]))
            except ValueError:
                raise DefinitionError(
                    f"{what} {value!r} of hourly partitions is not a date or time "
                    "(expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
                ) from None
        elif isinstance(value, datetime):
            wall = local_wall(value, what, cls.kind, tz)
        elif isinstance(value, date):
            wall = datetime(value.year, value.month, value.day)
        else:
            raise DefinitionError(f"{what} of hourly partitions must be a str, date or datetime")
        if wall.minute or wall.second or wall.microsecond:
            raise DefinitionError(
                f"{what} {wall.isoformat()} of hourly partitions is not on the hour"
            )
        # Drop any fold so that equal wall times compare and hash equal.
        return wall.replace(fold=0)

    @classmethod
    def _bound_text(cls, value: date) -> str:
        assert isinstance(value, datetime)
        return _wall_text(value)

    @cached_property
    def _start_utc(self) -> datetime:
        # An ambiguous start wall time means its first occurrence (fold=0); one that clocks skip
        # means the instant after the gap.
        return self.start.replace(tzinfo=self.zone).astimezone(UTC)

    @cached_property
    def _total(self) -> int | None:
        if self.end is None:
            return None
        # Only whole hours before the end count (this matters only for half-hour DST zones).
        return (self.end.replace(tzinfo=self.zone).astimezone(UTC) - self._start_utc) // _HOUR

    def total(self) -> int | None:
        """See :meth:`TimeWindowPartitions.total`."""
        return self._total

    def key_at(self, index: int) -> str:
        """See :meth:`TimeWindowPartitions.key_at`."""
        return self._key_of(self._start_utc + index * _HOUR)

    def _key_of(self, instant: datetime) -> str:
        local = instant.astimezone(self.zone)
        key = _wall_text(local)
        offset = local.utcoffset()
        # An existing wall time whose other fold has another offset occurs twice: say which.
        if offset is not None and local.replace(fold=1 - local.fold).utcoffset() != offset:
            key += _format_offset(offset)
        return key

    def _make_keys(self, lo: int, hi: int) -> list[str]:
        if self.zone.key in ("UTC", "Etc/UTC"):
            return self._utc_keys(lo, hi)
        # The bulk form of key_at, about three times faster: it formats the date once per day,
        # and asks whether a wall time repeats only near an offset change (a wall time can only
        # repeat within hours of one) or near the ends of the run, where a change may lie outside.
        zone = self.zone
        instant = self._start_utc + lo * _HOUR
        locals_ = []
        for _ in range(lo, hi):
            locals_.append(instant.astimezone(zone))
            instant += _HOUR
        count = len(locals_)
        near = bytearray(count)
        near[:_NEAR_CHANGE] = near[-_NEAR_CHANGE:] = b"\x01" * min(_NEAR_CHANGE, count)
        offsets = [local.utcoffset() for local in locals_]
        for i in range(1, count):
            if offsets[i] != offsets[i - 1]:
                first, last = max(0, i - _NEAR_CHANGE), min(count, i + _NEAR_CHANGE)
                near[first:last] = b"\x01" * (last - first)
        keys = []
        day, prefix = None, ""
        for local, offset, check in zip(locals_, offsets, near, strict=True):
            if local.day != day:
                day, prefix = local.day, f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
            key = prefix + _TWO_DIGITS[local.hour] + ":" + _TWO_DIGITS[local.minute]
            repeats = check and local.replace(fold=1 - local.fold).utcoffset() != offset
            if repeats and offset is not None:
                key += _format_offset(offset)
            keys.append(key)
        return keys

    def _utc_keys(self, lo: int, hi: int) -> list[str]:
        # In UTC no wall time repeats and every window starts on the hour: one date prefix per
        # day and the hours after it (ten times faster than converting each instant).
        keys: list[str] = []
        first = self._start_utc + lo * _HOUR
        ordinal, hour, index = first.toordinal(), first.hour, lo
        while index < hi:
            taken = min(24 - hour, hi - index)
            prefix = date.fromordinal(ordinal).isoformat() + "T"
            keys += [prefix + text for text in _HOUR_TEXTS[hour : hour + taken]]
            index += taken
            ordinal += 1
            hour = 0
        return keys

    def window_at(self, index: int) -> tuple[datetime, datetime]:
        """See :meth:`TimeWindowPartitions.window_at`."""
        start = self._start_utc + index * _HOUR
        return start.astimezone(self.zone), (start + _HOUR).astimezone(self.zone)

    def index_containing(self, instant: datetime) -> int:
        """See :meth:`TimeWindowPartitions.index_containing`."""
        return (as_utc(instant) - self._start_utc) // _HOUR

    def _parse_index(self, key: str) -> int:
        try:
            return self._parse_hour_key(key)
        except (OverflowError, ValueError):  # a wall time near year 1 or 9999, in UTC or back
            raise PartitionError(
                f"{key!r} is too far from the start of hourly partitions"
            ) from None

    def _parse_hour_key(self, key: str) -> int:
        match = _HOUR_KEY_RE.fullmatch(key)
        if match is None:
            raise self._unparsable(key)
        year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
        try:
            wall = datetime(year, month, day, hour, minute)
        except ValueError:
            raise self._unparsable(key) from None
        if match[6] is None:
            instant = self._resolve_wall(key, wall)
        else:
            hours, minutes = int(match[7]), int(match[8])
            if hours > 23 or minutes > 59:
                raise self._unparsable(key)
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if match[6] == "-" else 1)
            instant = wall.replace(tzinfo=fixed_offset(offset)).astimezone(UTC)
            if instant.astimezone(self.zone).replace(tzinfo=None) != wall:
                raise PartitionError(
                    f"{key!r} names no time in {self.zone.key}: the UTC offset of "
                    f"{_wall_text(wall)} there is not {match[6]}{match[7]}:{match[8]}"
                )
        index, rest = divmod(instant - self._start_utc, _HOUR)
        if rest:
            raise PartitionError(
                f"{key!r} is not the start of an hourly partition in {self.zone.key} "
                f"(the one holding it is {self.key_at(index)})"
            )
        return int(index)

    def _resolve_wall(self, key: str, wall: datetime) -> datetime:
        """The one instant a wall time without offset names, or PartitionError."""
        first = wall.replace(tzinfo=self.zone, fold=0)
        second = wall.replace(tzinfo=self.zone, fold=1)
        if first.utcoffset() == second.utcoffset():
            return first.astimezone(UTC)
        if first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) == wall:
            first_offset, second_offset = first.utcoffset(), second.utcoffset()
            assert first_offset is not None and second_offset is not None
            raise PartitionError(
                f"{key!r} is ambiguous in {self.zone.key} (that hour repeats when clocks fall "
                f"back); add its UTC offset: {key}{_format_offset(first_offset)} or "
                f"{key}{_format_offset(second_offset)}"
            )
        raise PartitionError(f"{key!r} does not exist in {self.zone.key} (clocks skip it)")
