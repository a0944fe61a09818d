"""The state file itself: created only by writes, migrated forward, refused when newer or not
ours, shared with other processes between short transactions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from store_factories import make_m, make_run

from assetflow.errors import StateError
from assetflow.store import MIGRATIONS, StateStore


def test_reads_of_a_missing_file_are_empty_and_create_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "deep" / "state.duckdb")
    assert store.snapshot() == {}
    assert store.snapshot_from_history() == {}
    assert store.runs() == []
    assert store.run("x") is None
    assert store.logs("a") == []
    assert store.backfills() == []
    assert store.durations(["a"]) == {}
    assert not (tmp_path / "deep").exists()


def test_the_first_write_creates_the_folder_and_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "deep" / "state.duckdb")
    store.start_run(make_run())
    assert store.path.is_file()
    assert len(store.runs()) == 1


def _add_notes(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("CREATE TABLE notes (note VARCHAR)")
    connection.execute("ALTER TABLE runs ADD COLUMN note VARCHAR")


def _version(path: Path) -> int:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        connection.close()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("first_call", ["write", "read"])
def test_a_v1_file_migrates_forward_keeping_its_history(tmp_path: Path, first_call: str) -> None:
    path = tmp_path / "state.duckdb"
    run = make_run()
    StateStore(path).append([make_m(run.run_id, "a", "p1")], runs_started=[run])
    assert _version(path) == len(MIGRATIONS)

    v2 = StateStore(path, migrations=[*MIGRATIONS, _add_notes])
    if first_call == "write":
        v2.start_run(make_run())
    else:
        assert v2.run(run.run_id) == run
    assert _version(path) == len(MIGRATIONS) + 1
    assert v2.snapshot() == StateStore(path, migrations=[*MIGRATIONS, _add_notes]).snapshot()
    assert ("a", "p1") in v2.snapshot()
    connection = duckdb.connect(str(path), read_only=True)
    try:
        assert connection.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    finally:
        connection.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    StateStore(path).start_run(make_run())

    def broken(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError, match="migration bug"):
        StateStore(path, migrations=[*MIGRATIONS, broken]).start_run(make_run())
    assert _version(path) == len(MIGRATIONS)
    assert len(StateStore(path).runs()) == 1


def test_a_file_from_a_newer_assetflow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    StateStore(path, migrations=[*MIGRATIONS, _add_notes]).start_run(make_run())
    old = StateStore(path)
    message = (
        rf"written by a newer assetflow \(schema {len(MIGRATIONS) + 1} > {len(MIGRATIONS)}\); "
        "upgrade assetflow"
    )
    with pytest.raises(StateError, match=message):
        old.runs()
    with pytest.raises(StateError, match=message):
        old.start_run(make_run())


@pytest.mark.parametrize("call", ["read", "write"])
def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path, call: str) -> None:
    path = tmp_path / "state.duckdb"
    path.write_text("these are my notes, not a database\n" * 20)
    store = StateStore(path)
    with pytest.raises(StateError, match=r"state\.duckdb"):
        if call == "read":
            store.snapshot()
        else:
            store.start_run(make_run())
    assert path.read_text().startswith("these are my notes")


def test_another_duckdb_database_is_not_taken_for_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE sales (x INTEGER)")
    connection.close()
    with pytest.raises(StateError, match="not an assetflow state file"):
        StateStore(path).start_run(make_run())


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_another_process_reads_between_writes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    store.append([make_m(run.run_id, "a", "p1")], runs_started=[run])
    reader = _python(
        """
        import sys
        from pathlib import Path
        from assetflow.store import StateStore
        store = StateStore(Path(sys.argv[1]))
        print(len(store.runs()), sorted(store.snapshot()))
        """,
        str(store.path),
    )
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert out.strip() == "1 [('a', 'p1')]"


LOCK_HOLDER = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def test_a_call_waits_for_another_process_to_release_the_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb", lock_timeout=30)
    store.start_run(make_run())
    holder = _python(LOCK_HOLDER, str(store.path), "0.5")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    assert len(store.runs()) == 1  # retried until the holder let go
    holder.communicate(timeout=60)


def test_a_file_locked_for_too_long_is_a_state_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb", lock_timeout=0.3)
    store.start_run(make_run())
    holder = _python(LOCK_HOLDER, str(store.path), "30")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateError, match="stayed locked"):
            store.runs()
    finally:
        holder.kill()
        holder.communicate(timeout=60)
