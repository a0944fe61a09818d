"""Daily, weekly and monthly partitions: windows from one local midnight to a later one.

A day with a daylight-saving change lasts 23 or 25 hours. Import the public names from
:mod:`assetflow.partitions.core`; the shared window arithmetic is in
:mod:`assetflow.partitions.windows`.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import ClassVar

from assetflow.errors import DefinitionError
from assetflow.partitions.windows import Bound, TimeWindowPartitions, as_utc, local_wall

_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _date_bound(value: Bound, what: str, kind: str, tz: str | None) -> date:
    """A daily/weekly/monthly bound as a local date, from a str, date or midnight datetime."""
    if isinstance(value, str):
        match = _DATE_RE.fullmatch(value)
        if kind == "monthly" and match is None and _MONTH_RE.fullmatch(value):
            value += "-01"
            match = _DATE_RE.fullmatch(value)
        try:
            if match is None:
                raise ValueError
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            expected = "YYYY-MM or YYYY-MM-DD" if kind == "monthly" else "YYYY-MM-DD"
            raise DefinitionError(
                f"{what} {value!r} of {kind} partitions is not a date (expected {expected})"
            ) from None
    if isinstance(value, datetime):
        wall = local_wall(value, what, kind, tz)
        if wall.time() != time(0):
            raise DefinitionError(
                f"{what} {wall.isoformat()} of {kind} partitions is not at midnight"
            )
        return wall.date()
    if isinstance(value, date):
        return value
    raise DefinitionError(f"{what} of {kind} partitions must be a str, date or datetime")


class CalendarPartitions(TimeWindowPartitions):
    """Windows from one local midnight to a later one: daily, weekly and monthly."""

    @abstractmethod
    def date_at(self, index: int) -> date:
        """The local date window ``index`` starts on (no bounds check)."""

    @abstractmethod
    def index_of_date(self, day: date) -> int:
        """The index of the window holding local date ``day`` (no bounds check)."""

    @abstractmethod
    def _parse_date(self, key: str) -> date:
        """The start date a key names; PartitionError if it does not parse or is not aligned."""

    def _parse_index(self, key: str) -> int:
        return self.index_of_date(self._parse_date(key))

    def key_at(self, index: int) -> str:
        """See :meth:`TimeWindowPartitions.key_at`."""
        return self._bound_text(self.date_at(index))

    def _midnight_utc(self, day: date) -> datetime:
        # fold=0 picks the first of two midnights on a fall-back, and for a midnight that clocks
        # skip, the instant they jump (a gap starting at midnight). Either way day N ends exactly
        # where day N+1 starts, because both use this one function.
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)

    def window_at(self, index: int) -> tuple[datetime, datetime]:
        """See :meth:`TimeWindowPartitions.window_at`."""
        zone = self.zone
        return (
            self._midnight_utc(self.date_at(index)).astimezone(zone),
            self._midnight_utc(self.date_at(index + 1)).astimezone(zone),
        )

    def index_containing(self, instant: datetime) -> int:
        """See :meth:`TimeWindowPartitions.index_containing`."""
        utc = as_utc(instant)
        index = self.index_of_date(utc.astimezone(self.zone).date())
        # The local date decides, except around a rare gap that straddles midnight: check
        # against the window itself so that index_containing and window_at always agree.
        if utc < self._midnight_utc(self.date_at(index)):
            index -= 1
        elif utc >= self._midnight_utc(self.date_at(index + 1)):
            index += 1
        return index

    def total(self) -> int | None:
        """See :meth:`TimeWindowPartitions.total`."""
        return None if self.end is None else self.index_of_date(self.end)

    @classmethod
    def _bound_text(cls, value: date) -> str:
        return value.isoformat()

    def _parse_iso_date(self, key: str) -> date:
        if len(key) == 10 and key[4] == key[7] == "-" and key.isascii():
            # Fast path: with that shape, fromisoformat accepts exactly YYYY-MM-DD.
            try:
                return date.fromisoformat(key)
            except ValueError:
                raise self._unparsable(key) from None
        match = _DATE_RE.fullmatch(key)
        if match is None:
            raise self._unparsable(key)
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise self._unparsable(key) from None


@dataclass(frozen=True, init=False)
class DailyPartitions(CalendarPartitions):
    """One partition per local calendar day, keyed ``2024-01-31``."""

    kind: ClassVar[str] = "daily"
    key_format: ClassVar[str] = "YYYY-MM-DD"
    start: date
    end: date | None
    timezone: str | None

    @classmethod
    def _normalize_bound(cls, value: Bound, what: str, tz: str | None) -> date:
        return _date_bound(value, what, cls.kind, tz)

    @cached_property
    def _start_ordinal(self) -> int:
        return self.start.toordinal()

    def date_at(self, index: int) -> date:
        return date.fromordinal(self._start_ordinal + index)

    def index_of_date(self, day: date) -> int:
        return day.toordinal() - self._start_ordinal

    def _parse_date(self, key: str) -> date:
        return self._parse_iso_date(key)


@dataclass(frozen=True, init=False)
class WeeklyPartitions(CalendarPartitions):
    """One partition per week starting Monday at local midnight, keyed by its Monday."""

    kind: ClassVar[str] = "weekly"
    key_format: ClassVar[str] = "YYYY-MM-DD, a Monday"
    start: date
    end: date | None
    timezone: str | None

    @classmethod
    def _normalize_bound(cls, value: Bound, what: str, tz: str | None) -> date:
        day = _date_bound(value, what, cls.kind, tz)
        if day.weekday() != 0:
            monday = day - timedelta(days=day.weekday())
            raise DefinitionError(
                f"weekly partitions start on a Monday; {what} {day} is a "
                f"{_WEEKDAYS[day.weekday()]} (the Monday before it is {monday})"
            )
        return day

    @cached_property
    def _start_ordinal(self) -> int:
        return self.start.toordinal()

    def date_at(self, index: int) -> date:
        return date.fromordinal(self._start_ordinal + 7 * index)

    def index_of_date(self, day: date) -> int:
        return (day.toordinal() - self._start_ordinal) // 7

    def _parse_date(self, key: str) -> date:
        day = self._parse_iso_date(key)
        if day.weekday() != 0:
            monday = day - timedelta(days=day.weekday())
            raise self._unparsable(
                key, f"; it is a {_WEEKDAYS[day.weekday()]}, its week starts on {monday}"
            )
        return day


@dataclass(frozen=True, init=False)
class MonthlyPartitions(CalendarPartitions):
    """One partition per calendar month from the 1st at local midnight, keyed ``2024-01``."""

    kind: ClassVar[str] = "monthly"
    key_format: ClassVar[str] = "YYYY-MM"
    start: date
    end: date | None
    timezone: str | None

    @classmethod
    def _normalize_bound(cls, value: Bound, what: str, tz: str | None) -> date:
        day = _date_bound(value, what, cls.kind, tz)
        if day.day != 1:
            raise DefinitionError(
                f"monthly partitions start on the 1st of a month; {what} {day} is not "
                f"(use {day.year:04d}-{day.month:02d})"
            )
        return day

    @classmethod
    def _bound_text(cls, value: date) -> str:
        return f"{value.year:04d}-{value.month:02d}"

    @cached_property
    def _start_month(self) -> int:
        return self.start.year * 12 + self.start.month - 1

    def date_at(self, index: int) -> date:
        year, month = divmod(self._start_month + index, 12)
        return date(year, month + 1, 1)

    def index_of_date(self, day: date) -> int:
        return day.year * 12 + day.month - 1 - self._start_month

    def _parse_date(self, key: str) -> date:
        match = _MONTH_RE.fullmatch(key)
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) == 0:
            raise self._unparsable(key)
        return date(int(match[1]), int(match[2]), 1)
