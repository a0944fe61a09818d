"""The Recorder: many events become few writes, nothing is lost when a write fails, and it is
safe to feed from several threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from store_factories import log, make_m, make_run

from assetflow.errors import StateError
from assetflow.records import RunStatus, StepStatus
from assetflow.store import Recorder, StateStore


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition()`` until it holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_a_thousand_adds_are_written_in_one_batch_on_close(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    recorder = Recorder(store, interval=3600)
    recorder.add(runs_started=[run])
    steps = [make_m(run.run_id, "a", f"p{i}", start=i) for i in range(1000)]
    for step in steps:
        recorder.add(materializations=[step], logs=[log(step, 0, "hi")])
    recorder.add(runs_ended=[(run.run_id, RunStatus.SUCCESS, steps[-1].ended_at)])
    assert recorder.flushes == 0
    assert recorder.pending == 2002
    assert not store.path.exists()

    recorder.close()

    assert recorder.flushes == 1
    assert recorder.pending == 0
    assert store.run_steps(run.run_id) == steps
    assert len(store.logs("a")) == 1000
    assert store.runs()[0].counts == {"success": 1000}


def test_the_background_thread_flushes_on_its_own(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    with Recorder(store, interval=0.05) as recorder:
        recorder.add(runs_started=[run], materializations=[make_m(run.run_id, "a")])
        _wait_for(lambda: recorder.flushes >= 1)
        assert recorder.pending == 0
        assert ("a", "") in store.snapshot()


def test_flush_writes_now_and_an_empty_flush_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    with Recorder(store, interval=3600) as recorder:
        recorder.flush()
        assert recorder.flushes == 0 and not store.path.exists()
        recorder.add(runs_started=[make_run()])
        recorder.flush()
        assert recorder.flushes == 1
        assert len(store.runs()) == 1
    assert recorder.flushes == 1


def test_a_failed_write_keeps_the_events_and_raises_until_it_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    path.mkdir()  # a folder where the file should be: every write fails
    store = StateStore(path, lock_timeout=0.1)
    run = make_run()
    first, second = make_m(run.run_id, "a", "p1"), make_m(run.run_id, "a", "p2", start=5)
    recorder = Recorder(store, interval=3600)
    recorder.add(runs_started=[run], materializations=[first])
    with pytest.raises(StateError, match=r"state\.duckdb"):
        recorder.flush()
    assert recorder.pending == 2 and recorder.failed_flushes == 1
    recorder.add(materializations=[second])
    with pytest.raises(StateError):
        recorder.close()
    assert recorder.pending == 3
    error = recorder.error
    assert isinstance(error, StateError)

    path.rmdir()
    recorder.close()  # tries again, and now succeeds
    assert recorder.pending == 0 and recorder.error is None
    assert store.run_steps(run.run_id) == [first, second]


def test_background_failures_are_retried_without_losing_events(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    path.mkdir()
    store = StateStore(path, lock_timeout=0.05)
    run = make_run()
    recorder = Recorder(store, interval=0.02)
    recorder.add(runs_started=[run])
    _wait_for(lambda: recorder.failed_flushes >= 2)
    assert recorder.pending == 1
    path.rmdir()
    _wait_for(lambda: recorder.pending == 0)
    recorder.close()
    assert store.run(run.run_id) == run


def test_several_threads_can_add_at_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    run = make_run()
    recorder = Recorder(store, interval=0.01)
    recorder.add(runs_started=[run])

    def work(worker: int) -> None:
        for i in range(100):
            status = StepStatus.FAILED if i % 10 == 0 else StepStatus.SUCCESS
            recorder.add(materializations=[make_m(run.run_id, f"w{worker}", f"p{i}", status)])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert len(store.run_steps(run.run_id)) == 400
    assert store.runs()[0].counts == {"success": 360, "failed": 40}
    assert store.snapshot() == store.snapshot_from_history()


def test_adding_after_close_is_an_error(tmp_path: Path) -> None:
    recorder = Recorder(StateStore(tmp_path / "state.duckdb"))
    recorder.close()
    with pytest.raises(RuntimeError, match="closed"):
        recorder.add(runs_started=[make_run()])


def test_a_batch_that_cannot_be_written_does_not_silence_the_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live run whose history cannot be written (a record the store refuses, a full disk)
    must still prove alive: otherwise another run takes it for dead, records it crashed and
    makes its partitions again."""
    import assetflow.store.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "HEARTBEAT_S", 0.05)

    class RefusingStore(StateStore):
        def append(self, materializations: Sequence[Any] = (), *args: Any, **kwargs: Any) -> None:
            if any(m.error == "poison" for m in materializations):
                raise ValueError("the store refuses this batch")
            super().append(materializations, *args, **kwargs)

    store = RefusingStore(tmp_path / "state.duckdb")
    run = make_run()
    store.append(runs_started=[run])
    first_beat = store.runs()[0].heartbeat_at
    recorder = Recorder(store, interval=0.02, heartbeat_run=run.run_id)
    try:
        poison = make_m(run.run_id, "a", status=StepStatus.FAILED, error="poison")
        recorder.add(materializations=[poison])
        _wait_for(lambda: recorder.failed_flushes >= 3)
        _wait_for(lambda: store.runs()[0].heartbeat_at != first_beat)
    finally:
        recorder._stop.set()
