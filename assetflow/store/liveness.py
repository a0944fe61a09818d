"""Whether a run recorded as ``running`` is still alive, decided whenever anyone looks.

A live run's recorder beats every :data:`HEARTBEAT_S` seconds (``runs.heartbeat_at``). A run is
dead when its process is gone (same host: the pid no longer exists or is a zombie) or when its
heartbeat is older than :data:`STALE_AFTER_S` (another host, a reused pid, a frozen process).
Reads show a dead run as ``crashed`` at once (derived, nothing written); the next run that
starts records it so (:meth:`StateStore.record_crashed`), with its last heartbeat as its end.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
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


def is_alive(run: RunRecord, now: datetime, host: str) -> bool:
    """Whether ``run`` (recorded ``running``) is still running."""
    if run.status is not RunStatus.RUNNING:
        return False
    if run.host == host:
        if run.pid == os.getpid():
            return True
        if not pid_alive(run.pid):
            return False
    beat = run.heartbeat_at or run.started_at
    return (now - beat).total_seconds() <= STALE_AFTER_S


def effective(run: RunRecord, now: datetime, host: str) -> RunRecord:
    """``run`` as it stands now: a dead ``running`` run is ``crashed``, ended at its last beat."""
    if run.status is not RunStatus.RUNNING or is_alive(run, now, host):
        return run
    return replace(run, status=RunStatus.CRASHED, ended_at=run.heartbeat_at or run.started_at)
