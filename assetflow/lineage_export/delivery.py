"""The outbox: events delivered on a background thread, so that delivery never slows a run.

:meth:`Outbox.put` never blocks: an event goes into a bounded queue, or is dropped (and
counted) when the queue is full. One daemon thread sends them in order, trying each up to
``attempts`` times with exponential backoff; an event that still fails is counted, and the
first failure of a run is logged (``assetflow`` logger, warning) as alert deliveries are.
:meth:`Outbox.flush` waits for the queue to drain, at most a given time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Outbox", "OutboxCounts"]

_LOG = logging.getLogger("assetflow")


@dataclass(frozen=True)
class OutboxCounts:
    """What became of the events put so far: ``delivered``, ``failed`` (after every retry),
    ``dropped`` (the queue was full) and ``pending`` (queued or being sent); ``last_error`` is
    the error of the last failed delivery."""

    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0
    last_error: str | None = None

    def minus(self, before: OutboxCounts) -> OutboxCounts:
        """The counts since ``before`` (``pending`` and ``last_error`` as they are now)."""
        return OutboxCounts(
            self.delivered - before.delivered,
            self.failed - before.failed,
            self.dropped - before.dropped,
            self.pending,
            self.last_error,
        )


class Outbox:
    """Sends what is put into it with ``send`` on one background thread; never raises."""

    def __init__(
        self,
        send: Callable[[object], object],
        *,
        name: str,
        capacity: int = 1000,
        attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.send = send
        self.name = name
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, capacity))
        self._changed = threading.Condition()
        self._counts = OutboxCounts()
        self._pending = 0
        self._warned = False
        self._thread: threading.Thread | None = None

    def put(self, item: object) -> bool:
        """Queue ``item`` for delivery; ``False`` (and counted as dropped) if the queue is
        full."""
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name=f"assetflow-{self.name}", daemon=True
                )
                self._thread.start()
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self._count(dropped=1)
                self._warn_once("queue full, event dropped")
                return False
            self._pending += 1
            return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued event was delivered or given up on, at most ``timeout_s``
        seconds; whether the queue drained."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def counts(self) -> OutboxCounts:
        """The counts so far."""
        with self._changed:
            return OutboxCounts(
                self._counts.delivered,
                self._counts.failed,
                self._counts.dropped,
                self._pending,
                self._counts.last_error,
            )

    def rearm_warning(self) -> None:
        """Log the next failure again (once per run, not once per event)."""
        with self._changed:
            self._warned = False

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            delivered, error = self._deliver(item)
            with self._changed:
                self._pending -= 1
                if delivered:
                    self._count(delivered=1)
                else:
                    self._count(failed=1, error=error)
                    self._warn_once(error)
                self._changed.notify_all()

    def _deliver(self, item: object) -> tuple[bool, str | None]:
        error: str | None = None
        for attempt in range(self.attempts):
            try:
                self.send(item)
            except Exception as exc:  # any transport error: retried, then counted
                error = f"{type(exc).__name__}: {exc}"
            else:
                return True, None
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff_s * 2**attempt)
        return False, f"{error} (after {self.attempts} attempts)"

    def _count(
        self, delivered: int = 0, failed: int = 0, dropped: int = 0, error: str | None = None
    ) -> None:
        # Called with the condition held.
        counts = self._counts
        self._counts = OutboxCounts(
            counts.delivered + delivered,
            counts.failed + failed,
            counts.dropped + dropped,
            0,
            error if error is not None else counts.last_error,
        )

    def _warn_once(self, error: str | None) -> None:
        # Called with the condition held: one warning per run, the totals at its end.
        if not self._warned:
            self._warned = True
            _LOG.warning("%s event not delivered: %s", self.name, error)
