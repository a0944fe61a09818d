"""Short-lived DuckDB connections to the state file, with retry while another process holds it.

DuckDB lets one process at a time open a file for writing, and while it is open even a read-only
open from another process fails. So nothing keeps the state file open: every write and every read
opens, does one short transaction and closes, and an open that meets another process's lock
retries with a short backoff for a few seconds before giving up with :class:`StateError`.

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
from pathlib import Path

import duckdb

from assetflow.errors import StateError
from assetflow.store.faults import storage_fault

__all__ = ["LOCK_TIMEOUT_S", "connect", "open_connection"]

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
    """A connection to ``path`` held only for the ``with`` block (see :func:`connect`)."""
    with _path_lock(path), _queued(path, read_only, timeout):
        connection = connect(path, read_only, timeout)
        try:
            yield connection
        finally:
            connection.close()


@contextmanager
def _queued(path: Path, read_only: bool, timeout: float) -> Iterator[None]:
    """Hold ``<path>.lock`` (shared to read, exclusive to write) for the block.

    Waits at most ``timeout``; then the open goes ahead anyway and meets DuckDB's own lock,
    which says who holds the file. Without a folder for the lock file (the state file's does
    not exist yet) or a lock file that cannot be made, it goes ahead unqueued.
    """
    depths: dict[str, int] = _depth.__dict__.setdefault("paths", {})
    key = str(path)
    if depths.get(key):  # nested in this thread: the outer block holds the lock file
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        fd = None
    mode = fcntl.LOCK_SH if read_only else fcntl.LOCK_EX
    deadline = time.monotonic() + timeout
    if fd is not None:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(_QUEUE_POLL_S)
            except OSError:  # a file system without flock: unqueued
                break
    depths[key] = 1
    try:
        yield
    finally:
        depths[key] = 0
        if fd is not None:
            with suppress(OSError):
                os.close(fd)  # releases the lock
