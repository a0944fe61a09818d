"""Whether a run recorded as ``running`` is still alive, decided whenever anyone looks.

A live run's recorder beats every :data:`HEARTBEAT_S` seconds (``runs.heartbeat_at``). On this
host a run is dead when its process is gone (the pid no longer exists, is a zombie, or names a
process younger than the run: a reused pid); a live process keeps its run alive, however old its
heartbeat. A run of another host (or where ``/proc`` is missing) is dead when its heartbeat is
older than :data:`STALE_AFTER_S`.
Reads show a dead run as ``crashed`` at once (derived, nothing written); the next run that
starts records it so (:meth:`StateStore.record_crashed`), with its last heartbeat as its end.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assetflow.records import RunRecord, RunStatus

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "effective", "is_alive", "pid_alive"]

HEARTBEAT_S = 2.0
STALE_AFTER_S = 30.0


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    try:
        # "pid (name) S ..." : the state letter follows the last parenthesis.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return True  # no /proc (macOS): kill(0) said it exists


def process_started(pid: int) -> datetime | None:
    """When process ``pid`` of this host started (to about a second), if ``/proc`` says."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22: starttime
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def is_alive(run: RunRecord, now: datetime, host: str) -> bool:
    """Whether ``run`` (recorded ``running``) is still running.

    On this host the process decides: a live process that started before the run is the run's,
    alive however old its heartbeat (four runners on two busy cores can keep one from the
    state file for long; taking it for dead would void its claims and redo its partitions).
    A live pid whose process started after the run is a reused pid: the run is dead.
    """
    if run.status is not RunStatus.RUNNING:
        return False
    if run.host == host:
        if run.pid == os.getpid():
            return True
        if not pid_alive(run.pid):
            return False
        started = process_started(run.pid)
        if started is not None:
            return started <= run.started_at + _CLOCK_SLACK
    beat = run.heartbeat_at or run.started_at
    return (now - beat).total_seconds() <= STALE_AFTER_S


# /proc/stat gives the boot time in whole seconds: a process start is known to about 1 s.
_CLOCK_SLACK = timedelta(seconds=2)


def effective(run: RunRecord, now: datetime, host: str) -> RunRecord:
    """``run`` as it stands now: a dead ``running`` run is ``crashed``, ended at its last beat."""
    if run.status is not RunStatus.RUNNING or is_alive(run, now, host):
        return run
    return replace(run, status=RunStatus.CRASHED, ended_at=run.heartbeat_at or run.started_at)
