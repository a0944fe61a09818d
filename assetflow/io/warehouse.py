"""The project's warehouse: a shared DuckDB connection per run, a cursor per step, table locks.

The file is opened when a step first needs it and closed when no step uses it *and* another
process is waiting for it: DuckDB lets one process at a time open a file, so runs in several
processes take turns at step boundaries. A process that finds the file locked touches
``<warehouse>.waiting`` while it retries; the holder sees the fresh mtime, lets its running
steps finish, closes the file, pauses briefly, and queues for it again.

DuckDB cursors of one connection share the database and may be used from different threads, each
with its own transactions and its own TEMP schema. DuckDB resolves concurrent transactions
optimistically: appends never conflict and deletes of different rows of one table don't either,
but two transactions creating or dropping the same table do ("Catalog write-write conflict").
So writers of one table share a :class:`TableLock` while they only replace rows, and take it
alone to create, drop or recreate the table.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

import duckdb

from assetflow.errors import RunError
from assetflow.io.base import PARTITION_COLUMN
from assetflow.io.locks import TableLock, table_lock, write_lock
from assetflow.io.warehouse_wait import (
    NOTICE_AFTER_S,
    WAREHOUSE_WAIT_S,
    WarehouseLocked,
    WarehouseWaitCancelled,
    connect_waiting,
    format_seconds,
    lock_holder,
)

__all__ = [
    "NOTICE_AFTER_S",
    "WAREHOUSE_WAIT_S",
    "TableLock",
    "Warehouse",
    "WarehouseLocked",
    "WarehouseWaitCancelled",
    "format_seconds",
    "lock_holder",
    "table_lock",
    "write_lock",
]

# A waiting signal younger than this means someone is waiting now.
_WAITING_FRESH_S = 1.0
# The holder's pause after closing for a waiter: longer than the waiter's retry interval.
_YIELD_PAUSE_S = 0.3


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """``text`` as a single-quoted SQL string literal.

    Used only for values assetflow itself produces (partition keys, file paths) where a literal
    is what lets DuckDB prune row groups or open files at bind time; user SQL gets bound
    parameters instead. DuckDB reads backslashes in a plain string literally, so doubling the
    quotes is the whole escape.
    """
    return "'" + text.replace("'", "''") + "'"


def current_catalog(con: duckdb.DuckDBPyConnection) -> str:
    """The name of the database ``con`` is attached to (``warehouse`` for warehouse.duckdb)."""
    row = con.execute("SELECT current_database()").fetchall()[0]
    return str(row[0])


def qualified_table(catalog: str, table: str) -> str:
    """``"catalog"."main"."table"``.

    Fully qualified on purpose: a TEMP view shadows ``main.table`` too (the TEMP catalog's schema
    is also called ``main``), so only the catalog-qualified name reaches the stored table.
    """
    return ".".join(quote_identifier(part) for part in (catalog, "main", table))


def table_columns(
    con: duckdb.DuckDBPyConnection, catalog: str, table: str
) -> tuple[str, list[tuple[str, str]]] | None:
    """``(stored name, [(column, type), ...])`` of a table in ``catalog.main``, or ``None``.

    The name is matched case-insensitively, as DuckDB resolves it; the stored spelling is
    returned so callers can tell ``Orders`` from ``orders``.
    """
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = $catalog AND schema_name = 'main' "
        "AND lower(table_name) = lower($table) ORDER BY column_index",
        {"catalog": catalog, "table": table},
    ).fetchall()
    if not rows:
        return None
    return str(rows[0][0]), [(str(column), str(kind)) for _, column, kind in rows]


def data_columns(columns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The columns without assetflow's bookkeeping column."""
    return [(name, kind) for name, kind in columns if name != PARTITION_COLUMN]


class Warehouse:
    """The project's warehouse file, opened while steps use it (see the module docstring).

    ``Warehouse(":memory:")`` is a private in-memory database (tests), open until :meth:`close`.
    Steps take a cursor with :meth:`cursor` and give it back with :meth:`release`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        wait_limit: float | None = None,
        cancel: threading.Event | None = None,
        run_of: Callable[[int], str | None] | None = None,
    ) -> None:
        text = os.fspath(path)
        self.path = text
        # While the file is locked by another process: how long to wait, what stops it, and
        # which assetflow run (if any) a holder's pid is.
        self.wait_limit = wait_limit
        self._cancel = cancel
        self._run_of = run_of
        self._gave_up = False
        self.in_memory = text.startswith(":memory:")
        if self.in_memory:
            # ":memory:" is a new database per connect; ":memory:name" is shared in the process.
            self.scope = f"{text}@{id(self)}" if text == ":memory:" else text
        else:
            Path(text).parent.mkdir(parents=True, exist_ok=True)
            self.scope = os.path.realpath(text)
        self._waiting_file = Path(f"{self.scope}.waiting")
        self._changed = threading.Condition()
        self._users = 0
        self._alone = 0  # steps waiting for or holding the warehouse alone (see alone())
        self._yielding = False
        self._closed = False
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._catalog: str | None = None
        # (device, inode) of the file the connection has open: a file deleted or replaced
        # under a run would otherwise take its writes to nowhere (see check_still_there).
        self._identity: tuple[int, int] | None = None
        self._gone = False
        # Table schemas looked up while this connection is open (see columns()).
        self._schemas: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        if self.in_memory:
            self._connection = duckdb.connect(text)

    @property
    def catalog(self) -> str:
        """The warehouse's DuckDB catalog name (``warehouse`` for ``warehouse.duckdb``)."""
        if self._catalog is None:
            with self._changed:
                self._catalog = current_catalog(self._open())
        return self._catalog

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open connection (opening the file if needed); prefer :meth:`cursor` in steps."""
        with self._changed:
            return self._open()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor (its own transactions and TEMP schema); give it back with
        :meth:`release`. Waits while the file is handed over to another process."""
        with self._changed:
            if self._users and self._other_waiting():
                self._yielding = True  # the last running step hands the file over
            self._wait_for_hand_over()
            while self._alone:
                self._changed.wait()
            connection = self._open()
            self._users += 1
            return connection.cursor()

    def release(self, cursor: duckdb.DuckDBPyConnection | None = None) -> None:
        """Give back a cursor from :meth:`cursor` (closing it); the last one out hands the
        file over if another process waits for it."""
        if cursor is not None:
            with suppress(duckdb.Error):
                cursor.close()
        with self._changed:
            self._users = max(self._users - 1, 0)
            self._changed.notify_all()  # for alone()
            if self._users == 0 and self._gone and self._connection is not None:
                with suppress(duckdb.Error):
                    self._connection.close()
                self._connection, self._catalog, self._gone = None, None, False
            elif self._users == 0 and (self._yielding or self._other_waiting()):
                self._hand_over()

    @contextmanager
    def alone(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection, with no step's cursor beside it until the block ends.

        For a writer with a connection of its own to the file (dbt): it waits for the steps
        using the warehouse to finish, and new cursors wait for it. The file stays open, so
        that the writer's ``duckdb.connect`` joins this process's database.
        """
        with self._changed:
            self._alone += 1
            try:
                while self._users or self._yielding:
                    self._changed.wait()
                connection = self._open()
            except BaseException:
                self._alone -= 1
                self._changed.notify_all()
                raise
            self._users += 1
        try:
            yield connection
        finally:
            with self._changed:
                self._alone -= 1
            self.release()

    def columns(
        self, con: duckdb.DuckDBPyConnection, table: str
    ) -> tuple[str, list[tuple[str, str]]] | None:
        """:func:`table_columns` of ``table``, remembered while this process holds the file.

        Only this process writes the file while it has it open, and it changes an asset's
        table only through :meth:`remember` and :meth:`forget` (the IO manager creates and
        recreates tables under the table's exclusive lock); the lookups are forgotten whenever
        the file is handed over, since another process may change tables meanwhile.
        """
        key = table.lower()
        with self._changed:
            known = self._schemas.get(key)
        if known is not None:
            return known
        found = table_columns(con, self.catalog, table)
        if found is not None:
            self.remember(table, found)
        return found

    def remember(self, table: str, found: tuple[str, list[tuple[str, str]]]) -> None:
        """Note ``table``'s schema as this process just made or read it."""
        with self._changed:
            self._schemas[table.lower()] = (found[0], list(found[1]))

    def forget(self, table: str) -> None:
        """Drop what :meth:`columns` remembers of ``table`` (it changed, or a write failed)."""
        with self._changed:
            self._schemas.pop(table.lower(), None)

    def hand_over_if_idle(self) -> None:
        """Close the file now if no step uses it and another process waits for it.

        A run whose remaining steps wait for another run's lease uses no cursor, so it would
        never reach a step boundary: its loop calls this, or both runs would wait on each other.
        """
        with self._changed:
            if self._users == 0 and self._connection is not None and self._other_waiting():
                self._hand_over()

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise duckdb.ConnectionException(f"the warehouse {self.path} is closed")
        if self._connection is None:
            # Once a wait ran out, later steps try once: the user was told, and waited enough.
            limit = self.wait_limit
            if limit is None:
                limit = WAREHOUSE_WAIT_S  # read now: tests shorten it
            try:
                self._connection = connect_waiting(
                    self.path,
                    self._waiting_file,
                    0.0 if self._gave_up else limit,
                    self._cancel,
                    self._run_of,
                    waited_before=limit if self._gave_up else 0.0,
                )
            except WarehouseWaitCancelled:
                raise
            except WarehouseLocked:
                self._gave_up = True
                raise
            self._identity = self._file_identity()
            self._schemas.clear()
        return self._connection

    def _file_identity(self) -> tuple[int, int] | None:
        if self.in_memory:
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def check_still_there(self) -> None:
        """Raise if the file the run writes to was deleted or replaced meanwhile (its writes
        went nowhere); the run's next use of the warehouse opens the file anew."""
        with self._changed:
            if self._connection is None or self._identity is None:
                return
            if self._file_identity() == self._identity:
                return
            self._gone = True  # reopened once no step uses the old connection
        raise RunError(
            f"the warehouse {self.path} was deleted or replaced while this step wrote to it: "
            "its data is not there; run again to make it in the current file"
        )

    def _other_waiting(self) -> bool:
        if self.in_memory:
            return False
        try:
            return time.time() - self._waiting_file.stat().st_mtime < _WAITING_FRESH_S
        except OSError:
            return False

    def _wait_for_hand_over(self) -> None:
        while self._yielding:
            self._changed.wait()

    def _hand_over(self) -> None:
        """Close the file so the waiting process gets it; new cursors wait a moment."""
        self._yielding = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._changed.release()
        try:
            time.sleep(_YIELD_PAUSE_S)
        finally:
            self._changed.acquire()
            self._yielding = False
            self._changed.notify_all()

    def table(self, asset: str) -> str:
        """The fully qualified name of an asset's table."""
        return qualified_table(self.catalog, asset)

    def lock(self, table: str) -> TableLock:
        """The shared/exclusive lock of writes to ``table`` in this warehouse."""
        return table_lock(self.scope, table)

    def partition_lock(self, table: str, partition_key: str) -> threading.Lock:
        """The lock serializing writes to one partition of ``table``.

        The runner never materializes one partition twice at once; this makes a store correct
        even if someone does (the second would otherwise fail on a delete-delete conflict).
        """
        return write_lock(self.scope, f"{table.lower()}\0{partition_key}")

    def close(self) -> None:
        """Close the connection (and with it every cursor); closing twice is harmless."""
        with self._changed:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({self.path!r})"
