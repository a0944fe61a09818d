"""Short-lived DuckDB connections to the state file, with retry while another process holds it.

DuckDB lets one process at a time open a file for writing, and while it is open even a read-only
open from another process fails. So a read or a write opens, does one short transaction and
closes, and an open that meets another process's lock retries with a short backoff for a few
seconds before giving up with :class:`StateError`. A run is the exception: it writes its history
several times a second, so it keeps the file open (:func:`holding`) as long as no other process
waits for it, and hands it over as soon as one does.

assetflow's own processes queue for the file on a lock file beside it (``<state>.lock``, an
``flock``: shared to read, exclusive to write) before they open it. DuckDB's lock tells a waiter
nothing and is only found by trying to open the file, so waiters used to retry on a backoff and
a reader lost most races against several runs' frequent writes (seconds for a ``status`` during
four runs). The lock file is polled every few milliseconds for a fraction of the cost of one
open attempt, and readers share it, so a read gets in between two writes. A program that does
not know it (a DuckDB shell) is still met by the retry.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assetflow.errors import StateError
from assetflow.store.faults import storage_fault

__all__ = [
    "LOCK_TIMEOUT_S",
    "connect",
    "hand_over_if_waited",
    "held_generation",
    "holding",
    "open_connection",
]

# Long enough to ride out other runs' batched flushes (tens of ms each) even with several runs
# and a loaded machine (at 5 s, one of four concurrent runs on two busy cores sometimes lost
# every retry), short enough that a command meeting a stuck writer fails while the user looks.
LOCK_TIMEOUT_S = 15.0

# Fragments of DuckDB's messages when another process (or another configuration in this one)
# holds the file: these are worth retrying, anything else is not.
_LOCKED = ("could not set lock", "conflicting lock", "different configuration")

# Two connections to one file with different read_only flags cannot coexist in one process
# (DuckDB shares one instance per file), so connections to a path are serialized in-process.
_path_locks: dict[str, threading.RLock] = {}
_path_locks_guard = threading.Lock()
# How often a process waiting for the lock file asks again (a syscall, not an open attempt).
_QUEUE_POLL_S = 0.002
# How often a waiter touches its signal file, and how long a touch says "someone waits now":
# <state>.reading (a reader waits: writers step back) and <state>.waiting (a writer has waited
# _WRITER_PATIENCE_S already). A holder hands the file over on either.
_READING = ".reading"
_WAITING = ".waiting"
_SIGNAL_EVERY_S = 0.01
_READER_FRESH_S = 0.05
_WAITING_FRESH_S = 0.25
_WRITER_PATIENCE_S = 0.1
# After handing the file over, how long the holder leaves the waiter to take the queue.
_HAND_OVER_PAUSE_S = 0.02
# This thread's depth of open_connection per path: only the outermost takes the lock file.
_depth = threading.local()


def _path_lock(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _path_locks_guard:
        return _path_locks.setdefault(key, threading.RLock())


def _is_locked(error: duckdb.Error) -> bool:
    message = str(error).lower()
    return any(fragment in message for fragment in _LOCKED)


def connect(
    path: Path, read_only: bool, timeout: float = LOCK_TIMEOUT_S
) -> duckdb.DuckDBPyConnection:
    """Open the state file, retrying while another process holds it, for up to ``timeout`` s.

    Raises :class:`StateError` naming the file when it stays locked, is not a DuckDB database,
    or cannot be opened at all. The caller closes the connection (prefer :func:`open_connection`).
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            if not _is_locked(error):
                fault = storage_fault(path, error)  # damaged, not writable: say what to do
                raise fault or StateError(f"cannot open the state file {path}: {error}") from error
            if time.monotonic() >= deadline:
                raise StateError(
                    f"the state file {path} stayed locked by another process for "
                    f"{timeout:g}s ({error}); assetflow holds it only for moments, so another "
                    "program has it open (a DuckDB shell, a notebook): close it and retry"
                ) from error
        # Jitter so that several waiting processes do not retry in lockstep.
        time.sleep(min(delay * random.uniform(0.5, 1.5), max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 0.2)


@contextmanager
def open_connection(
    path: Path, read_only: bool, timeout: float = LOCK_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``path`` held only for the ``with`` block (see :func:`connect`).

    While this process is :func:`holding` the file, it is a cursor of the one connection held
    (read-write, whatever ``read_only`` says), opened once, handed over whenever another
    process waits for the file.
    """
    with _path_lock(path):
        held = _held.get(_key(path))
        if held is not None:
            with _held_cursor(held, path, timeout) as cursor:
                yield cursor
            return
        with _queued(path, read_only, timeout):
            connection = connect(path, read_only, timeout)
            try:
                yield connection
            finally:
                connection.close()


# --- the queue: <state>.lock ---------------------------------------------------------------


def _take_queue(path: Path, read_only: bool, timeout: float) -> int | None:
    """Wait for ``<path>.lock`` (shared or exclusive) for up to ``timeout`` s; the open file
    descriptor holding it (closing it releases the lock), or ``None`` when it could not be
    taken in time or at all (then the open goes ahead and meets DuckDB's own lock, which
    says who holds the file).

    A waiting reader signals at once (``<path>.reading``), and writers step back while one
    does: a read is one short transaction someone is looking at, while a run's writes are
    batched anyway. A waiting writer signals (``<path>.waiting``) once it has waited a moment,
    so that a process holding the file for a run hands it over (see :func:`holding`).
    """
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # no folder yet, or not writable: unqueued
        return None
    mode = fcntl.LOCK_SH if read_only else fcntl.LOCK_EX
    start = time.monotonic()
    deadline = start + timeout
    signalled = 0.0
    while True:
        now = time.monotonic()
        if read_only or not _fresh(path, _READING, _READER_FRESH_S) or now >= deadline:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            except OSError:  # a file system without flock: unqueued
                break
        if now >= deadline:
            break
        if now - signalled >= _SIGNAL_EVERY_S:
            if read_only:
                signalled = now
                _touch(path, _READING)
            elif now - start >= _WRITER_PATIENCE_S:
                signalled = now
                _touch(path, _WAITING)
        time.sleep(_QUEUE_POLL_S)
    with suppress(OSError):
        os.close(fd)
    return None


def _touch(path: Path, suffix: str) -> None:
    with suppress(OSError):
        signal = f"{path}{suffix}"
        os.close(os.open(signal, os.O_WRONLY | os.O_CREAT, 0o644))
        os.utime(signal)


def _fresh(path: Path, suffix: str, seconds: float) -> bool:
    try:
        return time.time() - os.stat(f"{path}{suffix}").st_mtime < seconds
    except OSError:
        return False


def _someone_waiting(path: Path) -> bool:
    """Whether a reader or (for a moment already) a writer waits for the file."""
    return _fresh(path, _READING, _READER_FRESH_S) or _fresh(path, _WAITING, _WAITING_FRESH_S)


@contextmanager
def _queued(path: Path, read_only: bool, timeout: float) -> Iterator[None]:
    """Hold ``<path>.lock`` (shared to read, exclusive to write) for the block; nested
    blocks in one thread take it once."""
    depths: dict[str, int] = _depth.__dict__.setdefault("paths", {})
    key = str(path)
    if depths.get(key):  # nested in this thread: the outer block holds the lock file
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    fd = _take_queue(path, read_only, timeout)
    depths[key] = 1
    try:
        yield
    finally:
        depths[key] = 0
        if fd is not None:
            with suppress(OSError):
                os.close(fd)  # releases the lock


# --- holding the file for a run ------------------------------------------------------------


@dataclass
class _Held:
    """The state file as one process holds it: one connection, the queue taken exclusively."""

    holders: int = 0
    connection: duckdb.DuckDBPyConnection | None = None
    fd: int | None = None
    generation: int = 0  # one more for every connection opened
    handed_over_at: float = 0.0


_held: dict[str, _Held] = {}


def _key(path: Path) -> str:
    return str(path.resolve())


@contextmanager
def holding(path: Path) -> Iterator[None]:
    """Keep ``path`` open in this process for the block (a run writing its history a few
    times a second): :func:`open_connection` gives cursors of one connection instead of
    opening and closing the file (and checkpointing it) every time.

    Another assetflow process that waits for the file signals it (``<path>.waiting``); the
    holder closes the file at its next use or :func:`hand_over_if_waited`, lets the waiter
    in, and opens it again when it next needs it.
    """
    key = _key(path)
    with _path_lock(path):
        held = _held.setdefault(key, _Held())
        held.holders += 1
    try:
        yield
    finally:
        with _path_lock(path):
            held.holders -= 1
            if held.holders == 0:
                _close_held(held)
                _held.pop(key, None)


def held_generation(path: Path) -> int | None:
    """Which connection this process holds ``path`` with now (``None``: not held, not open):
    what is true of one connection (its schema was checked) holds until this changes."""
    held = _held.get(_key(path))
    return held.generation if held is not None and held.connection is not None else None


def hand_over_if_waited(path: Path) -> None:
    """Close the held file now if another process waits for it and no thread here uses it."""
    lock = _path_lock(path)
    if not lock.acquire(blocking=False):
        return  # in use: its next open_connection hands it over
    try:
        held = _held.get(_key(path))
        if held is not None and held.connection is not None and _someone_waiting(path):
            _close_held(held)
    finally:
        lock.release()


@contextmanager
def _held_cursor(held: _Held, path: Path, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    depths: dict[str, int] = _depth.__dict__.setdefault("paths", {})
    outermost = not depths.get(str(path))
    if outermost and held.connection is not None and _someone_waiting(path):
        _close_held(held)
    if held.connection is None:
        # Just handed over: give the waiter (polling every few ms) the time to take the queue.
        pause = held.handed_over_at + _HAND_OVER_PAUSE_S - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        fd = _take_queue(path, False, timeout)
        try:
            held.connection = connect(path, False, timeout)
        except BaseException:
            if fd is not None:
                with suppress(OSError):
                    os.close(fd)
            raise
        held.fd = fd
        held.generation += 1
    cursor = held.connection.cursor()
    depths[str(path)] = depths.get(str(path), 0) + 1
    try:
        yield cursor
    except BaseException:
        # A failed write may leave the connection unusable (a full disk invalidates the
        # database): the next use opens the file again.
        with suppress(duckdb.Error):
            cursor.close()
        _close_held(held)
        raise
    finally:
        depths[str(path)] -= 1
    with suppress(duckdb.Error):
        cursor.close()


def _close_held(held: _Held) -> None:
    if held.connection is not None:
        with suppress(duckdb.Error):
            held.connection.close()
        held.connection = None
        held.handed_over_at = time.monotonic()
    if held.fd is not None:
        with suppress(OSError):
            os.close(held.fd)
        held.fd = None
