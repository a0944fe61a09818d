"""Storage faults of the state file: damaged or truncated, not writable, disk full.

DuckDB reports these as exceptions of several classes from wherever it meets them (opening the
file, a read deep inside a query, a commit), and a user who sees the raw exception learns
nothing from it. :func:`storage_fault` tells them apart from programming errors (a bad query
stays a bug with its traceback) and turns them into one line that names the file and says what
to do. They are :class:`~assetflow.errors.StateError`\\ s, so the CLI exits 2; a run whose
records could not be written raises :class:`RecordingFailed` instead (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from assetflow.errors import StateError

__all__ = ["RecordingFailed", "StorageFault", "first_line", "storage_fault"]

# What DuckDB (or the OS beneath it) says when a write cannot land.
_WRITE_FAULTS = (
    "no space left",
    "file too large",
    "disk quota",
    "permission denied",
    "read-only file system",
    "could not write",
    "failed to commit",
    "could not fsync",
    "could not truncate",
)
# DuckDB classes that only arise from the file or the engine, never from a query's text.
_FAULT_CLASSES: tuple[type[duckdb.Error], ...] = (
    duckdb.IOException,
    duckdb.FatalException,
    duckdb.InternalException,
    duckdb.SerializationException,
    duckdb.PermissionException,
    duckdb.OutOfMemoryException,
)
# Messages of other classes that still mean the file (not the query) is at fault.
_FAULT_TEXT = ("corrupt", "invalidated", "cannot rollback", "checksum", *_WRITE_FAULTS)


class StorageFault(StateError):
    """The state file cannot be read or written: damaged, truncated, not writable, disk full."""


class RecordingFailed(StorageFault):
    """A run's records could not be written: the run did not complete as far as history knows.

    Exit code 1 (a run that did not succeed), not 2: nothing the user typed was wrong.
    """

    exit_code = 1


def first_line(error: BaseException) -> str:
    """The first line of an error's message (DuckDB's may go on with context lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def is_fault(error: BaseException) -> bool:
    """Whether ``error`` (from DuckDB or the OS) is about the file rather than the query."""
    if isinstance(error, StorageFault):
        return True
    if isinstance(error, OSError):
        return True
    if not isinstance(error, duckdb.Error):
        return False
    if isinstance(error, _FAULT_CLASSES) or type(error) is duckdb.Error:
        return True
    message = str(error).lower()
    return any(fragment in message for fragment in _FAULT_TEXT)


def storage_fault(path: Path, error: BaseException) -> StorageFault | None:
    """The one-line :class:`StorageFault` for ``error`` met using state file ``path``, or
    ``None`` if ``error`` is not a storage fault (let it propagate as it is)."""
    if isinstance(error, StorageFault):
        return error
    if not is_fault(error):
        return None
    cause = first_line(error)
    if any(fragment in cause.lower() for fragment in _WRITE_FAULTS):
        return StorageFault(
            f"cannot write the state file {path} ({cause}); free disk space or make "
            f"{path.parent} writable, then run the command again (what was recorded is kept)"
        )
    return StorageFault(
        f"the state file {path} is damaged or truncated ({cause}); restore it from a backup, "
        "or move it away to start a new history (assetflow then makes everything again)"
    )
