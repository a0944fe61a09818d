"""Process-wide locks on warehouse tables and partitions (see :mod:`assetflow.io.warehouse`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TableLock:
    """A shared/exclusive lock: many row writers at once, or one schema writer alone.

    Waiting exclusive holders go first, so a stream of row writers cannot starve a table
    creation.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharing = 0
        self._exclusive = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Held by any number of threads at once, never beside an exclusive holder."""
        with self._changed:
            while self._exclusive or self._waiting:
                self._changed.wait()
            self._sharing += 1
        try:
            yield
        finally:
            with self._changed:
                self._sharing -= 1
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held by one thread, with no shared holder."""
        with self._changed:
            self._waiting += 1
            while self._exclusive or self._sharing:
                self._changed.wait()
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._changed:
                self._exclusive = False
                self._changed.notify_all()


_TABLE_LOCKS: dict[tuple[str, str], TableLock] = {}
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def table_lock(scope: str, name: str) -> TableLock:
    """The process-wide :class:`TableLock` of table (or folder) ``name`` within ``scope``.

    Locks live for the whole process, keyed by the database file or data folder, so two
    :class:`Warehouse` objects on the same file (two runs in one process) share them.
    """
    key = (scope, name.lower())  # DuckDB names are case-insensitive
    with _LOCKS_GUARD:
        lock = _TABLE_LOCKS.get(key)
        if lock is None:
            lock = _TABLE_LOCKS[key] = TableLock()
        return lock


def write_lock(scope: str, name: str) -> threading.Lock:
    """A process-wide plain lock for ``name`` within ``scope`` (one partition, say)."""
    key = (scope, name)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = threading.Lock()
        return lock
