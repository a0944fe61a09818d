"""The per-partition status cache: kept in step with each batch, equal to what history says
(whatever the order batches arrive in), and rebuildable from history."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_factories import make_m, make_run, reads

from assetflow.records import (
    InputVersion,
    LastSuccess,
    LineageRecord,
    MaterializationRecord,
    PartitionState,
    StepStatus,
)
from assetflow.store import StateStore

OK, FAILED, SKIPPED = StepStatus.SUCCESS, StepStatus.FAILED, StepStatus.SKIPPED


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state.duckdb")


def test_status_follows_success_then_failure_then_success(store: StateStore) -> None:
    run = make_run()
    up = make_m(run.run_id, "orders", "p1")
    store.append([up])

    first = make_m(run.run_id, "daily", "p1", start=2, code_version="c1")
    store.append([first], reads(first, up))
    state = store.snapshot()[("daily", "p1")]
    assert state == PartitionState(
        last_success=LastSuccess(
            first.id,
            "c1",
            first.data_version,
            first.ended_at,
            (InputVersion("orders", "p1", up.data_version, up.id),),
        )
    )

    failure = make_m(run.run_id, "daily", "p1", FAILED, start=4, error="KeyError: 'x'")
    store.append([failure])
    state = store.snapshot()[("daily", "p1")]
    assert state.latest_failed and state.latest_error == "KeyError: 'x'"
    assert state.last_success is not None and state.last_success.materialization_id == first.id

    # A skipped step changes nothing.
    store.append([make_m(run.run_id, "daily", "p1", SKIPPED, start=5)])
    assert store.snapshot()[("daily", "p1")] == state

    second = make_m(run.run_id, "daily", "p1", start=6, code_version="c2")
    store.append([second])
    state = store.snapshot()[("daily", "p1")]
    assert not state.latest_failed and state.latest_error is None
    assert state.last_success == LastSuccess(second.id, "c2", second.data_version, second.ended_at)
    assert store.snapshot() == store.snapshot_from_history()


def test_an_attempt_arriving_late_does_not_replace_a_later_one(store: StateStore) -> None:
    run = make_run()
    late_success = make_m(run.run_id, "a", "p1", start=1)
    failure = make_m(run.run_id, "a", "p1", FAILED, start=10)
    store.append([failure])
    store.append([late_success])
    state = store.snapshot()[("a", "p1")]
    assert state.latest_failed
    assert state.last_success is not None
    assert state.last_success.materialization_id == late_success.id


def test_snapshot_narrows_to_assets_and_skips_never_attempted_partitions(
    store: StateStore,
) -> None:
    run = make_run()
    store.append(
        [
            make_m(run.run_id, "a", "p1"),
            make_m(run.run_id, "b", "p1", FAILED),
            make_m(run.run_id, "c", "p1", SKIPPED),
        ]
    )
    assert set(store.snapshot()) == {("a", "p1"), ("b", "p1")}
    assert set(store.snapshot(["b", "c"])) == {("b", "p1")}
    assert store.snapshot_from_history(["b", "c"]) == store.snapshot(["b", "c"])
    assert store.snapshot([]) == {}


# --- the cache equals the truth, for any history -------------------------------------------

ASSETS = ("a", "b", "c")
PARTITIONS = ("p1", "p2", "p3")

# One event: (asset index, partition index, status, end time, which earlier successes it read).
events = st.tuples(
    st.integers(0, len(ASSETS) - 1),
    st.integers(0, len(PARTITIONS) - 1),
    st.sampled_from([OK, OK, FAILED, SKIPPED]),
    # Few distinct times, so that equal end times (tie broken by id) happen too.
    st.integers(0, 12),
    st.lists(st.integers(0, 50), max_size=2),
)
histories = st.lists(st.lists(events, min_size=1, max_size=8), min_size=1, max_size=4)


def _batches(
    history: list[list[tuple[int, int, StepStatus, int, list[int]]]],
) -> list[tuple[list[MaterializationRecord], list[LineageRecord]]]:
    run = make_run()
    successes: list[MaterializationRecord] = []
    batches = []
    for batch in history:
        records, lineage = [], []
        for asset, partition, status, end, upstream in batch:
            m = make_m(
                run.run_id,
                ASSETS[asset],
                PARTITIONS[partition],
                status,
                start=end - 1,
                end=end,
                code_version=f"c{end % 3}",
            )
            records.append(m)
            if status == OK and successes:
                picked = [successes[i % len(successes)] for i in upstream]
                lineage += reads(m, *{u.id: u for u in picked}.values())
        successes += [m for m in records if m.status == OK]
        batches.append((records, lineage))
    return batches


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(history=histories)
def test_cache_equals_history_and_rebuilds_identically(
    history: list[list[tuple[int, int, StepStatus, int, list[int]]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Path(folder) / "state.duckdb")
        for records, lineage in _batches(history):
            store.append(records, lineage)
        cached = store.snapshot()
        assert cached == store.snapshot_from_history()
        store.rebuild_status()
        assert store.snapshot() == cached
