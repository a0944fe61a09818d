"""assetflow's processes queue for the state file on ``<state>.lock`` (issue 18, items 2, 5).

A write holds the lock file exclusively and a read shares it, for exactly as long as the
connection is open; another process sees that with a non-blocking ``flock`` (a real
subprocess, as another run or reader would be). Nested opens in one thread take it once.
A run (its Recorder) keeps the file open between writes and hands it over to a process that
waits for it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
from store_factories import make_m, make_run

from assetflow.store import Recorder, StateStore
from assetflow.store.connection import held_generation, open_connection

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


# --- a run holds the file, and hands it over ------------------------------------------------

READER = """
import sys, time
from pathlib import Path
from assetflow.store import StateStore
start = time.monotonic()
runs = StateStore(Path(sys.argv[1]), lock_timeout=float(sys.argv[2])).runs()
print(len(runs), round(time.monotonic() - start, 3))
"""


def test_a_run_keeps_the_file_open_between_writes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    with Recorder(store, interval=3600) as recorder:
        recorder.add(runs_started=[run])
        recorder.flush()
        first = held_generation(store.path)
        assert first is not None  # open, and held
        assert probe(store.path, "read") == "held"
        for i in range(3):
            recorder.add(materializations=[make_m(run.run_id, "a", f"p{i}")])
            recorder.flush()
        assert held_generation(store.path) == first  # the same connection all along
    assert held_generation(store.path) is None
    assert probe(store.path, "write") == "free"
    assert len(store.run_steps(run.run_id)) == 3


def test_a_held_file_is_handed_over_to_another_process_and_taken_back(tmp_path: Path) -> None:
    """Another process's read gets in while a run holds the file (without the hand-over it
    would wait out its whole lock timeout and fail), and the run writes on afterwards."""
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    with Recorder(store, interval=3600) as recorder:
        recorder.add(runs_started=[run])
        recorder.flush()
        first = held_generation(store.path)
        done = subprocess.run(
            [sys.executable, "-c", READER, str(store.path), "5"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.split()[0] == "1"
        recorder.add(materializations=[make_m(run.run_id, "a")])
        recorder.flush()  # opens the file again
        second = held_generation(store.path)
        assert second is not None and first is not None and second > first
    assert [m.asset for m in store.run_steps(run.run_id)] == ["a"]


def test_reads_in_the_holding_process_use_the_held_file(tmp_path: Path) -> None:
    """DuckDB refuses a read-only open beside a read-write one in one process: while a run
    holds the file, the process's own reads (any thread) go through the held connection."""
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    with Recorder(store, interval=3600) as recorder:
        recorder.add(runs_started=[run], materializations=[make_m(run.run_id, "a")])
        recorder.flush()
        generation = held_generation(store.path)
        found: list[object] = []
        reader = threading.Thread(target=lambda: found.append(store.snapshot()))
        reader.start()
        reader.join(timeout=30)
        assert ("a", "") in found[0]  # type: ignore[operator]
        with store.reading_session():
            assert len(store.runs()) == 1
        assert held_generation(store.path) == generation
