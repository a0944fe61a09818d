"""The scheduler's clock: what time it is, and sleeping until a moment or a stop request.

:class:`SystemClock` is the real one. :class:`ShiftedClock` runs at real speed from another
starting instant (``assetflow scheduler --clock-start``: rehearse what happens around 03:00
without waiting for the night). :class:`ManualClock` only moves when told to, or when the
scheduler sleeps (it jumps to the wake-up time at once): tests and simulations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from assetflow.records import utcnow

__all__ = ["Clock", "ManualClock", "ShiftedClock", "SystemClock"]

# A long sleep wakes up this often to look at the clock again: a suspended laptop or a clock
# set by NTP then still wakes up on time, give or take this much.
MAX_NAP_S = 30.0


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep_until(self, moment: datetime, stop: threading.Event) -> bool:
        """Wait until ``moment`` or until ``stop`` is set; returns whether ``stop`` was set."""
        ...


class SystemClock:
    """The real clock; sleeping waits on the stop event (a signal wakes it at once)."""

    def __init__(self, source: Callable[[], datetime] = utcnow) -> None:
        self._source = source

    def now(self) -> datetime:
        return self._source()

    def sleep_until(self, moment: datetime, stop: threading.Event) -> bool:
        while not stop.is_set():
            left = (moment - self.now()).total_seconds()
            if left <= 0:
                break
            stop.wait(min(left, MAX_NAP_S))
        return stop.is_set()


class ShiftedClock(SystemClock):
    """Real time, shifted so that it read ``start`` when the clock was made."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock start must have a UTC offset, got {start.isoformat()}")
        offset = start.astimezone(UTC) - utcnow()
        super().__init__(lambda: utcnow() + offset)
        self.offset: timedelta = offset


class ManualClock:
    """A clock that stands still until :meth:`advance`, and jumps to the end of each sleep.

    ``on_sleep`` is called with each wake-up moment before the jump (a test stops the loop
    there by setting the stop event).
    """

    def __init__(self, start: datetime, on_sleep: Callable[[datetime], None] | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock start must have a UTC offset, got {start.isoformat()}")
        self.current = start
        self.sleeps: list[datetime] = []
        self._on_sleep = on_sleep

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current

    def sleep_until(self, moment: datetime, stop: threading.Event) -> bool:
        self.sleeps.append(moment)
        if self._on_sleep is not None:
            self._on_sleep(moment)
        if stop.is_set():
            return True
        self.current = max(self.current, moment)
        return False
