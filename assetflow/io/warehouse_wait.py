"""Waiting for a warehouse file another process holds: retry, say so once, give up in time.

DuckDB lets one process at a time open a file. A step that finds the warehouse locked retries
(touching ``<warehouse>.waiting`` so that an assetflow holder hands it over at its next step
boundary); after :data:`NOTICE_AFTER_S` it says once what holds the file and how to stop
waiting; it gives up past its limit (``[storage] lock_timeout``) or on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import duckdb

from assetflow.errors import RunError

# How long a step waits for another process to let go of the warehouse: its SQL may run for
# minutes, and waiting is the right thing to do; past this the step fails naming the file.
# ``[storage] lock_timeout`` sets it per project.
WAREHOUSE_WAIT_S = 600.0
# A wait this long is worth a word: what holds the file, and how to stop waiting.
NOTICE_AFTER_S = 3.0
_LOCKED = ("could not set lock", "conflicting lock")
_log = logging.getLogger("assetflow.warehouse")


class WarehouseLocked(RunError):
    """Another process kept the warehouse file for longer than the wait limit."""


class WarehouseWaitCancelled(WarehouseLocked):
    """The run was cancelled (Ctrl-C) while a step waited for the warehouse."""


def connect_waiting(
    path: str,
    waiting_file: Path,
    limit: float = WAREHOUSE_WAIT_S,
    cancel: threading.Event | None = None,
    run_of: Callable[[int], str | None] | None = None,
    waited_before: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, retrying while another process holds it (signalling that we wait).

    After :data:`NOTICE_AFTER_S` (or half the limit, if shorter) one line on stderr (through
    logging) says what holds the file and how to stop waiting; past ``limit`` seconds, or once
    ``cancel`` is set (Ctrl-C), it gives up with :class:`WarehouseLocked`
    (:class:`WarehouseWaitCancelled`). ``waited_before``: how long an earlier step of the run
    already waited in vain (a later step tries once, and its error says that wait).
    """
    started = time.monotonic()
    deadline = started + limit
    notice_at = started + min(NOTICE_AFTER_S, limit / 2)
    noticed = False
    delay = 0.02
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.Error as error:
            if not any(fragment in str(error).lower() for fragment in _LOCKED):
                raise RunError(f"cannot open the warehouse {path}: {error}") from error
            holder = lock_holder(str(error), run_of)
            now = time.monotonic()
            # The cancel first: a Ctrl-C is what stopped the wait, not the limit.
            if cancel is not None and cancel.is_set():
                raise WarehouseWaitCancelled(
                    f"stopped waiting for the warehouse {path} (locked by {holder}): "
                    "the run was cancelled"
                ) from error
            if now >= deadline:
                waited = format_seconds(waited_before if waited_before else limit)
                raise WarehouseLocked(
                    f"the warehouse {path} stayed locked by {holder} for {waited} "
                    "([storage] lock_timeout): close it there, or raise the limit, and run again"
                ) from error
            if not noticed and now >= notice_at:
                noticed = True
                _log.warning(
                    "waiting for the warehouse %s: %s holds it open; close it there, or press "
                    "Ctrl-C to stop waiting (giving up after %s: [storage] lock_timeout)",
                    path,
                    holder,
                    format_seconds(limit),
                )
        with suppress(OSError):
            waiting_file.touch()
        time.sleep(max(min(delay * random.uniform(0.5, 1.5), deadline - time.monotonic()), 0))
        delay = min(delay * 2, 0.1)


_HOLDER = re.compile(r"conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)", re.I)


def lock_holder(message: str, run_of: Callable[[int], str | None] | None = None) -> str:
    """Who holds the warehouse, from DuckDB's lock error: ``assetflow run ID (PID 12; ...)``
    when ``run_of`` knows the pid, ``another assetflow run (PID 12; ...)``, ``another program
    (/usr/bin/duckdb, PID 34)``, or ``another program``."""
    found = _HOLDER.search(message)
    if found is None:
        return "another program"
    pid = int(found["pid"])
    if pid == os.getpid():
        return f"another connection in this process (PID {pid})"
    with suppress(Exception):  # naming the run is a courtesy: never fail the wait for it
        run_id = run_of(pid) if run_of is not None else None
        if run_id is not None:
            return f"assetflow run {run_id} (PID {pid}; it lets go between its steps)"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        command = ""
    if "assetflow" in command:
        return f"another assetflow run (PID {pid}; it lets go between its steps)"
    return f"another program ({found['program']}, PID {pid})"


def format_seconds(seconds: float) -> str:
    """``10m``, ``1h``, ``90s``, ``2.5s``: a wait limit as people write it."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
