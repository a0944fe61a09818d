"""Short-lived DuckDB connections to the state file, with retry while another process holds it.

DuckDB lets one process at a time open a file for writing, and while it is open even a read-only
open from another process fails. So nothing keeps the state file open: every write and every read
opens, does one short transaction and closes, and an open that meets another process's lock
retries with a short backoff for a few seconds before giving up with :class:`StateError`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    with _path_lock(path):
        connection = connect(path, read_only, timeout)
        try:
            yield connection
        finally:
            connection.close()
