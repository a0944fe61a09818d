"""Whether a `running` run is alive (assetflow.store.liveness): on this host its process
decides, whatever its heartbeat says, unless the pid now belongs to a younger process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from store_factories import make_run

from assetflow.records import RunStatus, this_host, utcnow
from assetflow.store.liveness import effective, is_alive


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(0.2)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_live_process_is_alive_however_old_its_heartbeat(
    other_process: subprocess.Popen[bytes],
) -> None:
    """A run starved of the state file (four runners on two busy cores) cannot beat for a
    while; taking it for dead voids its claims and another run redoes its partitions."""
    started = utcnow()  # the process started just before: it is the run's
    run = replace(make_run(), pid=other_process.pid, started_at=started, heartbeat_at=started)
    later = started + timedelta(minutes=10)  # ten minutes without a beat
    assert is_alive(run, later, this_host())
    assert effective(run, later, this_host()).status is RunStatus.RUNNING


def test_a_reused_pid_does_not_keep_a_dead_run_alive(
    other_process: subprocess.Popen[bytes],
) -> None:
    now = utcnow()
    # The run started (and its process died) an hour ago; its pid now names a new process.
    run = replace(
        make_run(),
        pid=other_process.pid,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(hours=1),
    )
    assert not is_alive(run, now, this_host())


def test_a_gone_process_is_dead_at_once() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    now = utcnow()
    run = replace(make_run(), pid=proc.pid, started_at=now, heartbeat_at=now)
    assert not is_alive(run, now, this_host())


def test_another_host_is_judged_by_its_heartbeat() -> None:
    now = utcnow()
    run = replace(make_run(), host="elsewhere", pid=1, started_at=now - timedelta(minutes=5))
    assert not is_alive(replace(run, heartbeat_at=now - timedelta(minutes=1)), now, this_host())
    assert is_alive(replace(run, heartbeat_at=now - timedelta(seconds=5)), now, this_host())
