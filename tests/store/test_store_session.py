"""``StateStore.reading_session``: reads in one block share one connection, and only there."""

from __future__ import annotations

import threading
from pathlib import Path

from store_factories import make_m, make_run

from assetflow.store import StateStore
from assetflow.store import connection as connection_module


def test_reads_in_a_session_open_the_file_once_and_release_it(
    tmp_path: Path, monkeypatch: object
) -> None:
    path = tmp_path / "state.duckdb"
    store = StateStore(path)
    run = make_run()
    store.append(runs_started=[run], materializations=[make_m(run.run_id, "a", "p")])
    opened: list[bool] = []
    original = connection_module.connect

    def counting(*args: object, **kwargs: object) -> object:
        opened.append(True)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    connection_module.connect = counting  # type: ignore[assignment]
    try:
        with store.reading_session():
            # A second StateStore on the same file (as Project.store makes) shares it.
            other = StateStore(path)
            assert [r.run.run_id for r in other.runs()] == [run.run_id]
            assert store.durations(["a"]).keys() == {"a"}
            # Another thread does not use the session: its read waits for the file (one
            # connection per file per process) and opens its own once the session ends.
            seen_elsewhere: list[int] = []
            thread = threading.Thread(target=lambda: seen_elsewhere.append(len(store.runs())))
            thread.start()
            thread.join(0.2)
            assert thread.is_alive() and len(opened) == 1
        thread.join(10)
        assert seen_elsewhere == [1]
        assert len(opened) == 2, "one open for the session, one for the other thread's read"
    finally:
        connection_module.connect = original  # type: ignore[assignment]
    # Released: a write after the session works, and a read sees it.
    store.append(materializations=[make_m(run.run_id, "b", "p", start=1)])
    assert set(store.durations(["a", "b"])) == {"a", "b"}
