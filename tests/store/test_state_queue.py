"""assetflow's processes queue for the state file on ``<state>.lock`` (issue 18, item 5).

A write holds the lock file exclusively and a read shares it, for exactly as long as the
connection is open; another process sees that with a non-blocking ``flock`` (a real
subprocess, as another run or reader would be). Nested opens in one thread take it once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from assetflow.store.connection import open_connection

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
mode = fcntl.LOCK_EX if sys.argv[2] == "write" else fcntl.LOCK_SH
try:
    fcntl.flock(fd, mode | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


def probe(state: Path, want: str) -> str:
    """What another process finds when it asks for the lock file to ``want`` (read/write)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, f"{state}.lock", want],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_state(tmp_path: Path) -> Path:
    state = tmp_path / "state.duckdb"
    duckdb.connect(str(state)).close()
    return state


def test_a_write_holds_the_queue_for_its_connection_only(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    with open_connection(state, read_only=False) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        assert probe(state, "read") == "held"
        assert probe(state, "write") == "held"
    assert probe(state, "read") == "free"
    assert probe(state, "write") == "free"


def test_reads_share_the_queue_and_keep_writers_out(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    with open_connection(state, read_only=True):
        assert probe(state, "read") == "free"
        assert probe(state, "write") == "held"
    assert probe(state, "write") == "free"


def test_nested_opens_in_one_thread_take_the_queue_once(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    with open_connection(state, read_only=False) as outer:
        with open_connection(state, read_only=False) as inner:
            inner.execute("CREATE TABLE t (x INTEGER)")
        assert probe(state, "write") == "held"  # the outer block still holds it
        outer.execute("INSERT INTO t VALUES (1)")
    assert probe(state, "write") == "free"


def test_a_queue_held_past_the_timeout_is_passed_by(tmp_path: Path) -> None:
    """A lock file held by a stuck process does not stop assetflow: past the wait, the open
    goes ahead and meets DuckDB's own lock (here free, so it succeeds)."""
    state = make_state(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(state) + '.lock'!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('holding', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with open_connection(state, read_only=False, timeout=0.2) as con:
            con.execute("CREATE TABLE t (x INTEGER)")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
