"""Cron ticks in an IANA timezone: pure arithmetic over instants, no state, no clock.

A tick is an aware instant at which a cron expression fires, read as wall-clock time in the
schedule's timezone (croniter does the calendar). Daylight saving needs two decisions:

- **Spring forward** (a wall time that does not exist, 02:30 on 2024-03-10 in New York): the
  tick fires once, at the first instant after the gap (03:00 EDT), as croniter and Vixie cron do.
- **Fall back** (a wall time that happens twice, 01:30 on 2024-11-03 in New York): the tick fires
  once, at the first occurrence (01:30 EDT). Every wall time ticks at most once per day, so a
  daily job never runs twice; an every-30-minutes schedule skips the repeated hour's second pass.
  Nothing is lost by that: a tick materializes everything due, so the next tick picks it up.

All functions return instants in the schedule's timezone; comparisons are by instant (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = [
    "COALESCE_COUNT_LIMIT",
    "DueTick",
    "due_tick",
    "iter_ticks",
    "latest_tick",
    "next_tick",
    "ticks_between",
]

# Counting missed ticks of a minutely schedule down for a year would take seconds: past this
# many, the count stops (it is only reported, never acted on).
COALESCE_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class DueTick:
    """The tick an evaluation runs, and how many older missed ticks were folded into it."""

    tick: datetime
    coalesced: int = 0


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment


def _repeated(moment: datetime) -> bool:
    """Whether ``moment`` is the second occurrence of its wall time (the fall-back hour)."""
    wall = moment.replace(tzinfo=None)
    first = wall.replace(tzinfo=moment.tzinfo, fold=0)
    return first.utcoffset() != moment.utcoffset() and first.astimezone(UTC) < moment.astimezone(
        UTC
    )


def iter_ticks(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Every tick strictly after ``after``, in order (an endless iterator)."""
    zone = ZoneInfo(timezone)
    start = _aware(after, "after").astimezone(zone)
    schedule = croniter(cron, start)
    last = start.astimezone(UTC)
    stalled = 0
    while True:
        candidate: datetime = schedule.get_next(datetime)
        candidate = candidate.astimezone(zone)
        instant = candidate.astimezone(UTC)
        # croniter may hand back an instant twice around a gap; each instant ticks once.
        if instant <= last or _repeated(candidate):
            stalled += 1
            if stalled > 100:  # never seen; but a scheduler must not spin: step past it
                schedule = croniter(cron, (last + timedelta(minutes=1)).astimezone(zone))
                stalled = 0
            continue
        stalled = 0
        last = instant
        yield candidate


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick strictly after ``after``."""
    return next(iter_ticks(cron, timezone, after))


def latest_tick(cron: str, timezone: str, now: datetime) -> datetime | None:
    """The last tick at or before ``now`` (``None`` only for expressions that never fired)."""
    zone = ZoneInfo(timezone)
    moment = _aware(now, "now").astimezone(zone)
    schedule = croniter(cron, moment)
    # Step back past ticks that are repeats (skipped) until one that ticks, then walk forward:
    # get_prev is strictly before ``now``, and forward iteration is the one source of truth.
    for _ in range(4):
        try:
            earlier: datetime = schedule.get_prev(datetime)
        except (ValueError, OverflowError):  # nothing before: a schedule far in the future
            return None
        earlier = earlier.astimezone(zone)
        if not _repeated(earlier):
            break
    else:  # pragma: no cover - four repeats in a row cannot happen in real zones
        return None
    found: datetime | None = earlier
    bound = moment.astimezone(UTC)
    # Start just before ``earlier`` so it comes out of the forward walk (and is checked there).
    for tick in iter_ticks(cron, timezone, earlier - timedelta(seconds=1)):
        if tick.astimezone(UTC) > bound:
            break
        found = tick
    return found


def ticks_between(
    cron: str, timezone: str, after: datetime, until: datetime, limit: int | None = None
) -> list[datetime]:
    """The ticks in ``(after, until]``, oldest first, at most ``limit`` of them."""
    bound = _aware(until, "until").astimezone(UTC)
    found: list[datetime] = []
    for tick in iter_ticks(cron, timezone, after):
        if tick.astimezone(UTC) > bound or (limit is not None and len(found) >= limit):
            break
        found.append(tick)
    return found


def due_tick(cron: str, timezone: str, last_run: datetime | None, now: datetime) -> DueTick | None:
    """What one evaluation at ``now`` runs: the latest tick that is due and has not run.

    ``last_run`` is the latest tick already claimed (by any scheduler). With none, the latest
    past tick runs at once (a new schedule does not wait a day for its first run). Older
    missed ticks are not run on their own: they are counted as coalesced into the one that
    runs. ``None``: nothing is due.
    """
    latest = latest_tick(cron, timezone, now)
    if latest is None:
        return None
    if last_run is None:
        return DueTick(latest, 0)
    if latest.astimezone(UTC) <= _aware(last_run, "last_run").astimezone(UTC):
        return None
    missed = ticks_between(cron, timezone, last_run, latest, limit=COALESCE_COUNT_LIMIT + 1)
    return DueTick(latest, max(len(missed) - 1, 0))
