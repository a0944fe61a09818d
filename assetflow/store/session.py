"""Opening the state file: short read-only and read-write sessions, and shared reads.

Every call opens the file, runs one short transaction and closes it again, so other processes
can read and write between calls (see :mod:`assetflow.store.connection`); a file that does not
exist yet reads as an empty history without being created.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from assetflow.errors import StateError
from assetflow.store.connection import LOCK_TIMEOUT_S, held_generation, open_connection
from assetflow.store.faults import StorageFault, storage_fault
from assetflow.store.schema import (
    MIGRATIONS,
    Migration,
    check_not_newer,
    ensure_schema,
    schema_version,
)

__all__ = ["StoreSession"]

# Reads of a state file that does not exist yet see these (one per schema length, since tests
# inject migrations): creating the schema costs ~25 ms, and a plan reads several times.
_EMPTY_DATABASES: dict[int, duckdb.DuckDBPyConnection] = {}


class StoreSession:
    """How a store reaches its file: :meth:`_writing`, :meth:`_reading`, :meth:`reading_session`."""

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        lock_timeout: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self._migrations = tuple(migrations)
        self._lock_timeout = lock_timeout
        # (device, inode) of the file once this store has seen it: a file deleted or replaced
        # under a live store (a run) must not silently become a fresh, empty history.
        self._identity: tuple[int, int] | None = None
        # The held connection (see connection.holding) whose schema this store has checked.
        self._schema_checked_on: int | None = None

    def _check_identity(self) -> None:
        """Refuse to go on with a file that is no longer the one this store was using."""
        if self._identity is None:
            return
        try:
            stat = os.stat(self.path)
            now: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            now = None
        if now != self._identity:
            what = "deleted" if now is None else "replaced"
            raise StorageFault(
                f"the state file {self.path} was {what} while this command was using it: "
                "what it did since is not recorded there; restore the file, or run the "
                "command again to record into the new one"
            )

    def _note_identity(self) -> None:
        if self._identity is None:
            with suppress(OSError):
                stat = os.stat(self.path)
                self._identity = (stat.st_dev, stat.st_ino)

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"

    # --- sessions -----------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-write transaction on the file, creating it (and its folder) if needed."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"cannot create the folder of the state file {self.path}: {error}"
            ) from error
        self._check_identity()  # before connecting, which would create a new file
        with (
            named_faults(self.path),
            open_connection(self.path, False, self._lock_timeout) as connection,
        ):
            self._note_identity()
            generation = held_generation(self.path)
            if generation is None or generation != self._schema_checked_on:
                ensure_schema(connection, self.path, self._migrations)
                self._schema_checked_on = generation
            connection.begin()
            try:
                yield connection
                connection.commit()
            except BaseException:
                # A failed commit (disk full) has already ended the transaction: rolling back
                # again would only bury the cause under "no transaction is active".
                with suppress(duckdb.Error):
                    connection.rollback()
                raise

    @contextmanager
    def reading_session(self) -> Iterator[None]:
        """Reads of this file inside the block, in this thread, share one read-only connection
        (one open instead of one per read: a screen that makes several reads). Keep the block
        short: an open connection keeps writers out of the file meanwhile."""
        key = str(self.path)
        if key in _shared_readers():
            yield
            return
        with self._reading() as connection:
            _shared_readers()[key] = connection
            try:
                yield
            finally:
                del _shared_readers()[key]

    @contextmanager
    def scratch(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for temporary tables and files attached read-only, next to this
        file's reads: a cursor of the read connection (of the session, if one is open), with
        temporary tables of its own, closed after the block. Cheaper than a DuckDB of its own
        (an in-memory database costs ~0.01-0.02 s to open and close). Files it attaches are
        attached to the state file's database: detach them in the block, under a name no
        other thread uses."""
        with self._reading() as connection:
            cursor = connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    @property
    def in_reading_session(self) -> bool:
        """Whether this thread reads this file through a :meth:`reading_session` now (it
        cannot write meanwhile: DuckDB refuses a read-write open next to a read-only one)."""
        return str(self.path) in _shared_readers()

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; an empty in-memory history when there is no file yet."""
        with named_faults(self.path), self._read_connection() as connection:
            yield connection

    @contextmanager
    def _read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        shared = _shared_readers().get(str(self.path))
        if shared is not None:
            yield shared
            return
        self._check_identity()
        if not self.path.exists():
            with self._empty() as connection:
                yield connection
            return
        with open_connection(self.path, True, self._lock_timeout) as connection:
            self._note_identity()
            version = schema_version(connection, self.path)
            check_not_newer(version, self.path, self._migrations)
            if version == len(self._migrations):
                yield connection
                return
        if version == 0:
            # An empty DuckDB file (left so by something else) holds no history, and a read
            # must not write to it.
            with self._empty() as connection:
                yield connection
            return
        with self._writing():
            pass  # an older file: migrating it is the one write a read may cause
        with open_connection(self.path, True, self._lock_timeout) as connection:
            yield connection

    @contextmanager
    def _empty(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on an empty in-memory history with this store's schema (made once)."""
        key = len(self._migrations)
        database = _EMPTY_DATABASES.get(key)
        if database is None:
            database = duckdb.connect(":memory:")
            ensure_schema(database, self.path, self._migrations)
            _EMPTY_DATABASES[key] = database
        cursor = database.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


_THREAD = threading.local()


def _shared_readers() -> dict[str, duckdb.DuckDBPyConnection]:
    """This thread's open reading sessions, by state file path."""
    found: dict[str, duckdb.DuckDBPyConnection] | None = getattr(_THREAD, "readers", None)
    if found is None:
        found = _THREAD.readers = {}
    return found


@contextmanager
def named_faults(path: Path) -> Iterator[None]:
    """Storage faults met inside the block (a damaged page read deep inside a query, a commit
    on a full disk) become one :class:`~assetflow.store.faults.StorageFault` naming ``path``;
    anything else (a bad query is a bug) passes unchanged."""
    try:
        yield
    except (duckdb.Error, OSError) as error:
        fault = storage_fault(path, error)
        if fault is None:
            raise
        raise fault from error
