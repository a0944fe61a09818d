"""Recorder: batches a run's events and writes them to the StateStore a few times a second.

Opening the state file costs tens of milliseconds, so writing each event on its own would both
slow a run down and keep the file locked against other processes most of the time. The runner
hands events to :meth:`Recorder.add` instead; a background thread appends whatever is queued
every ``interval`` seconds in one transaction, and :meth:`Recorder.close` writes the rest.

A failed write loses nothing: the batch goes back to the front of the queue, the thread tries
again on its next tick, and :meth:`Recorder.flush` / :meth:`Recorder.close` raise the error
while events remain unwritten.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from assetflow.records import (
    CheckRecord,
    LineageRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
    RunStatus,
    utcnow,
)
from assetflow.store.connection import hand_over_if_waited, holding
from assetflow.store.faults import RecordingFailed, StorageFault
from assetflow.store.liveness import HEARTBEAT_S
from assetflow.store.store import StateStore

__all__ = ["Recorder"]

_log = logging.getLogger(__name__)

# How often the recorder's thread looks for a process waiting for the state file.
_HAND_OVER_CHECK_S = 0.02


@dataclass
class _Batch:
    materializations: list[MaterializationRecord] = field(default_factory=list)
    lineage: list[LineageRecord] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    runs_started: list[RunRecord] = field(default_factory=list)
    runs_ended: list[tuple[str, RunStatus, datetime]] = field(default_factory=list)
    heartbeats: list[tuple[str, datetime]] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)
    released: list[tuple[str, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.checks)
            + len(self.released)
            + len(self.materializations)
            + len(self.lineage)
            + len(self.logs)
            + len(self.runs_started)
            + len(self.runs_ended)
            + len(self.heartbeats)
        )

    def extend(self, later: _Batch) -> None:
        """Queue ``later`` after what this batch holds."""
        self.materializations.extend(later.materializations)
        self.lineage.extend(later.lineage)
        self.logs.extend(later.logs)
        self.runs_started.extend(later.runs_started)
        self.runs_ended.extend(later.runs_ended)
        self.heartbeats.extend(later.heartbeats)
        self.checks.extend(later.checks)
        self.released.extend(later.released)

    def write(self, store: StateStore) -> None:
        """Append the whole batch to ``store`` in one transaction."""
        store.append(
            self.materializations,
            self.lineage,
            self.logs,
            self.runs_started,
            self.runs_ended,
            heartbeats=self.heartbeats[-1:],  # the latest beat says it all
            checks=self.checks,
            released=self.released,
        )


class Recorder:
    """A thread-safe, batching writer in front of ``store``; use it as a context manager.

    ``flushes`` counts the batches written so far (``failed_flushes`` the failed attempts).
    With ``heartbeat_run``, it also records that run's heartbeat every ``HEARTBEAT_S`` seconds
    (see :mod:`assetflow.store.liveness`), whether or not steps finish meanwhile.
    """

    def __init__(
        self, store: StateStore, interval: float = 0.25, heartbeat_run: str | None = None
    ) -> None:
        self.store = store
        self.interval = interval
        self.heartbeat_run = heartbeat_run
        self._last_beat = time.monotonic()
        self.flushes = 0
        self.failed_flushes = 0
        self._pending = _Batch()
        self._pending_lock = threading.Lock()
        # Held for a whole write, so that batches reach the file in the order they were queued.
        self._flush_lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self._stop = threading.Event()
        # The run keeps the state file open between writes (handed over to any process
        # waiting for it): no open, schema check and checkpoint per write.
        self._holding: AbstractContextManager[None] | None = holding(store.path)
        self._holding.__enter__()
        self._thread = threading.Thread(target=self._run, name="assetflow-recorder", daemon=True)
        self._thread.start()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """How many records are queued and not yet written."""
        with self._pending_lock:
            return len(self._pending)

    @property
    def error(self) -> BaseException | None:
        """The last write failure, while its events are still queued."""
        return self._error

    @property
    def fault(self) -> StorageFault | None:
        """The last write failure if the file itself is at fault (disk full, damaged, not
        writable) rather than busy: a run stops starting steps whose records cannot land."""
        error = self._error
        return error if isinstance(error, StorageFault) else None

    def ensure_recorded(self) -> None:
        """Write what is queued; raise :class:`RecordingFailed` if a storage fault keeps it
        out of the file (a run is never reported successful with its records lost). A busy
        file is not an error here: :meth:`close` tries again."""
        try:
            self.flush()
        except StorageFault as fault:
            raise self._failed(fault) from fault
        except Exception:
            _log.debug("recording deferred to close", exc_info=True)

    def _failed(self, fault: StorageFault) -> RecordingFailed:
        return RecordingFailed(
            f"{fault}; the run's history from then on is not recorded, so its steps count "
            "as not run"
        )

    def add(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        lineage: Sequence[LineageRecord] = (),
        logs: Sequence[LogRecord] = (),
        runs_started: Sequence[RunRecord] = (),
        runs_ended: Sequence[tuple[str, RunStatus, datetime]] = (),
        checks: Sequence[CheckRecord] = (),
        released: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        """Queue records for the next write (the groups of :meth:`StateStore.append`)."""
        if self._closed:
            raise RuntimeError(f"the recorder of {self.store.path} is closed")
        batch = _Batch(
            list(materializations),
            list(lineage),
            list(logs),
            list(runs_started),
            list(runs_ended),
            checks=list(checks),
            released=list(released),
        )
        with self._pending_lock:
            self._pending.extend(batch)

    def flush(self) -> None:
        """Write everything queued now, from any thread; raises if the write fails."""
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, _Batch()
            if not batch:
                return
            try:
                batch.write(self.store)
            except BaseException as error:
                with self._pending_lock:
                    # Back in front of whatever was queued meanwhile, to keep the order.
                    batch.extend(self._pending)
                    self._pending = batch
                self._error = error
                self.failed_flushes += 1
                raise
            self._error = None
            self.flushes += 1

    def close(self) -> None:
        """Stop the background thread and write the rest; raises if events stay unwritten.

        Calling it again after a failure tries the write again.
        """
        if not self._closed:
            self._closed = True
            self._stop.set()
            self._thread.join()
        try:
            self.flush()
        except RecordingFailed:
            raise
        except StorageFault as fault:
            raise self._failed(fault) from fault
        finally:
            if self._holding is not None:
                holding_, self._holding = self._holding, None
                holding_.__exit__(None, None, None)  # closes (and checkpoints) the file

    def _run(self) -> None:
        next_write = time.monotonic() + self.interval
        while not self._stop.wait(min(_HAND_OVER_CHECK_S, self.interval)):
            # Between writes, a process waiting for the file gets it within a few ms.
            hand_over_if_waited(self.store.path)
            if time.monotonic() < next_write:
                continue
            next_write = time.monotonic() + self.interval
            beat = self.heartbeat_run is not None and (
                time.monotonic() - self._last_beat >= HEARTBEAT_S
            )
            if self.heartbeat_run is not None and beat:
                self._last_beat = time.monotonic()
                with self._pending_lock:
                    self._pending.heartbeats.append((self.heartbeat_run, utcnow()))
            try:
                self.flush()
            except StorageFault:
                pass  # no retry will mend it soon: the run stops and reports it (fault)
            except Exception as error:
                # Kept queued and raised by flush()/close(); the next tick tries again.
                _log.warning("could not record history in %s yet: %s", self.store.path, error)
            if beat and self._error is not None:
                self._beat_alone()

    def _beat_alone(self) -> None:
        """The batch holding the heartbeat was not written: write the beat on its own. A run
        whose history is stuck (a record the store refuses, a full disk) is still alive, and
        a stale heartbeat would make another run take it for dead and redo its partitions."""
        assert self.heartbeat_run is not None
        try:
            self.store.heartbeat(self.heartbeat_run, utcnow())
        except Exception as error:
            _log.warning("could not record the heartbeat in %s: %s", self.store.path, error)
