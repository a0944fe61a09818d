"""The state store's history: records round-trip, runs count final outcomes, ids resolve by
prefix, logs filter, lineage links both ways, backfills track progress, prune keeps statuses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from store_factories import T0, at, log, make_m, make_run, reads

from assetflow.errors import StateError
from assetflow.records import BackfillRecord, RunStatus, StepStatus
from assetflow.store import StateStore

OK, FAILED, SKIPPED = StepStatus.SUCCESS, StepStatus.FAILED, StepStatus.SKIPPED


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / ".assetflow" / "state.duckdb")


def test_every_record_type_round_trips(store: StateStore) -> None:
    run = make_run(arguments={"partitions": ["2024-01-01"], "force": True})
    upstream = make_m(run.run_id, "orders", "2024-01-01", row_count=12, metadata={"n": [1, 2]})
    failed = make_m(
        run.run_id, "daily", "2024-01-01", FAILED, start=2, traceback="Traceback ...\nboom"
    )
    retried = make_m(run.run_id, "daily", "2024-01-01", start=4, attempt=2)
    skipped = make_m(run.run_id, "monthly", "2024-01", SKIPPED, start=5, reason="upstream failed")
    lineage = reads(retried, upstream)
    logs = [log(retried, 0, "starting"), log(retried, 1, "done", "WARNING")]
    store.append(
        [upstream, failed, retried, skipped],
        lineage,
        logs,
        runs_started=[run],
        runs_ended=[(run.run_id, RunStatus.SUCCESS, at(9))],
    )

    assert store.run(run.run_id) == make_run(
        run.run_id, arguments=run.arguments, status=RunStatus.SUCCESS, ended=9
    )
    assert store.run_steps(run.run_id) == [upstream, failed, retried, skipped]
    assert store.materialization(failed.id) == failed
    assert store.materialization(123) is None
    assert store.lineage_of(retried.id) == lineage
    assert [line.record for line in store.logs("daily")] == logs


def test_runs_are_newest_first_and_count_the_final_outcome_of_each_step(
    store: StateStore,
) -> None:
    old, new = make_run(started=0), make_run(started=100)
    steps = [
        # a step that failed twice and then succeeded counts once, as a success
        make_m(new.run_id, "a", "p1", FAILED, start=101, attempt=1),
        make_m(new.run_id, "a", "p1", FAILED, start=103, attempt=2),
        make_m(new.run_id, "a", "p1", OK, start=105, attempt=3),
        make_m(new.run_id, "a", "p2", FAILED, start=101, attempt=1),
        make_m(new.run_id, "a", "p2", FAILED, start=103, attempt=2),
        make_m(new.run_id, "b", "p1", SKIPPED, start=107),
        make_m(old.run_id, "c", "", OK, start=1),
    ]
    store.append(
        steps, runs_started=[old, new], runs_ended=[(old.run_id, RunStatus.SUCCESS, at(2))]
    )

    summaries = store.runs()
    assert [s.run.run_id for s in summaries] == [new.run_id, old.run_id]
    assert summaries[0].counts == {"success": 1, "failed": 1, "skipped": 1}
    assert summaries[1].counts == {"success": 1}
    assert summaries[0].heartbeat_at == new.started_at

    assert [s.run.run_id for s in store.runs(limit=1)] == [new.run_id]
    assert [s.run.run_id for s in store.runs(status="success")] == [old.run_id]
    assert [s.run.run_id for s in store.runs(asset="c")] == [old.run_id]
    assert store.runs(asset="nope") == []


def test_run_ended_and_heartbeat_update_the_run(store: StateStore) -> None:
    run = make_run()
    store.start_run(run)
    store.heartbeat(run.run_id, at(30))
    assert store.runs()[0].heartbeat_at == at(30)
    store.end_run(run.run_id, RunStatus.CANCELLED, at(31))
    record = store.run(run.run_id)
    assert record is not None
    assert (record.status, record.ended_at) == (RunStatus.CANCELLED, at(31))


def test_a_run_resolves_from_a_unique_prefix_and_an_ambiguous_one_names_candidates(
    store: StateStore,
) -> None:
    first = make_run("20240131-130501-aaaaaa")
    second = make_run("20240131-130501-aaabbb")
    store.append(runs_started=[first, second])

    assert store.run("20240131-130501-aaab") == second
    assert store.run(first.run_id) == first
    assert store.run("2099") is None
    with pytest.raises(StateError, match="ambiguous") as raised:
        store.run("20240131-130501-aaa")
    assert first.run_id in str(raised.value) and second.run_id in str(raised.value)


def test_logs_filter_by_partition_and_run_and_keep_the_last_lines(store: StateStore) -> None:
    run1, run2 = make_run(started=0), make_run(started=50)
    m1 = make_m(run1.run_id, "a", "p1", start=1)
    m2 = make_m(run1.run_id, "a", "p2", start=2)
    m3 = make_m(run2.run_id, "a", "p1", start=51)
    other = make_m(run2.run_id, "b", "p1", start=52)
    logs = [
        log(m, seq, f"{m.run_id[-2:]}/{m.partition}/{seq}") for m in (m1, m2, m3) for seq in (0, 1)
    ]
    store.append(
        [m1, m2, m3, other], logs=[*logs, log(other, 0, "not a")], runs_started=[run1, run2]
    )

    assert [line.record for line in store.logs("a")] == logs
    assert [line.record.message for line in store.logs("a", "p1")] == [
        logs[0].message,
        logs[1].message,
        logs[4].message,
        logs[5].message,
    ]
    lines = store.logs("a", run_id=run2.run_id)
    assert [(line.run_id, line.partition, line.attempt) for line in lines] == [
        (run2.run_id, "p1", 1)
    ] * 2
    assert [line.record for line in store.logs("a", limit=3)] == logs[-3:]
    assert store.logs("zzz") == []


def test_lineage_links_upstream_and_downstream(store: StateStore) -> None:
    run = make_run()
    up = make_m(run.run_id, "orders", "p1")
    down1 = make_m(run.run_id, "daily", "p1", start=2)
    down2 = make_m(run.run_id, "weekly", "w1", start=3)
    store.append([up, down1, down2], [*reads(down1, up), *reads(down2, up, down1)])

    assert store.downstream_readers(up.id) == [down1, down2]
    assert store.downstream_readers(down2.id) == []
    assert [r.upstream_asset for r in store.lineage_of(down2.id)] == ["daily", "orders"]
    assert store.latest_success_id("daily", "p1") == down1.id
    assert store.latest_success_id("daily", "p9") is None


def test_durations_are_the_median_of_recent_successes(store: StateStore) -> None:
    run = make_run()
    steps = [
        make_m(run.run_id, "a", "p1", start=0, end=2),
        make_m(run.run_id, "a", "p2", start=10, end=14),
        make_m(run.run_id, "a", "p3", start=20, end=30),
        make_m(run.run_id, "a", "p4", FAILED, start=40, end=140),
        make_m(run.run_id, "b", "p1", start=0, end=1.5),
    ]
    store.append(steps)
    assert store.durations(["a", "b", "never"]) == {"a": 4.0, "b": 1.5}


def test_backfills_track_progress_and_runs(store: StateStore) -> None:
    record = BackfillRecord(
        backfill_id="bf-20240131-a1",
        selection="daily+",
        range_from="2024-01-01",
        range_to="2024-01-31",
        options={"missing_only": True},
        status=RunStatus.RUNNING,
        created_at=T0,
        updated_at=T0,
        total=31,
    )
    store.create_backfill(record)
    assert store.backfill("bf-2024") == record

    store.update_backfill(record.backfill_id, done=10, run_id="r1", at=at(60))
    store.update_backfill(record.backfill_id, done=31, run_id="r2", at=at(70))
    store.update_backfill(record.backfill_id, status=RunStatus.SUCCESS, run_id="r2", at=at(80))
    updated = store.backfill(record.backfill_id)
    assert updated is not None
    assert (updated.status, updated.done, updated.run_ids) == (RunStatus.SUCCESS, 31, ("r1", "r2"))
    assert updated.updated_at == at(80)
    assert updated.options == {"missing_only": True}

    later = BackfillRecord("bf-20240131-b2", "*", None, None, {}, RunStatus.RUNNING, at(5), at(5))
    store.create_backfill(later)
    assert [b.backfill_id for b in store.backfills()] == [later.backfill_id, record.backfill_id]
    with pytest.raises(StateError, match="ambiguous"):
        store.backfill("bf-")
    with pytest.raises(StateError, match="no backfill"):
        store.update_backfill("nope", done=1)


def test_prune_keeps_last_successes_and_attempts_so_statuses_do_not_change(
    store: StateStore,
) -> None:
    old = make_run(started=0)
    newer = make_run(started=100)
    running = make_run(started=200)
    first = make_m(old.run_id, "a", "p1", start=1)
    replaced = make_m(old.run_id, "a", "p2", start=2)
    kept_success = make_m(old.run_id, "a", "p3", start=3)
    kept_failure = make_m(old.run_id, "a", "p4", FAILED, start=4)
    store.append(
        [first, replaced, kept_success, kept_failure],
        reads(first, replaced),
        [log(first, 0, "x"), log(kept_success, 0, "kept")],
        runs_started=[old],
        runs_ended=[(old.run_id, RunStatus.FAILED, at(10))],
    )
    only_old = make_run(started=20)
    gone = make_m(only_old.run_id, "b", "p1", FAILED, start=21)
    retry = make_m(only_old.run_id, "b", "p1", start=23, attempt=2)
    store.append(
        [gone, retry],
        runs_started=[only_old],
        runs_ended=[(only_old.run_id, RunStatus.SUCCESS, at(30))],
    )
    # The newer run makes the same data (a change of data version would keep the success before
    # it for `why`; see test_why_root_cause.py).
    same = {m.partition: m.data_version for m in (first, replaced, kept_success)}
    store.append(
        [
            make_m(newer.run_id, "a", "p1", start=101, data_version=same["p1"]),
            make_m(newer.run_id, "a", "p2", start=102, data_version=same["p2"]),
        ],
        runs_started=[newer, running],
        runs_ended=[(newer.run_id, RunStatus.SUCCESS, at(110))],
    )
    before = store.snapshot()

    deleted = store.prune(T0 + timedelta(seconds=105))

    # first and replaced were superseded by the newer run; gone by its own retry; the run
    # only_old keeps its row because its retry is b[p1]'s last success.
    assert deleted == {
        "logs": 1,
        "lineage": 1,
        "check_results": 0,
        "materializations": 3,
        "runs": 0,
    }
    assert store.snapshot() == before == store.snapshot_from_history()
    assert store.materialization(first.id) is None
    assert store.materialization(kept_failure.id) == kept_failure
    assert [line.record.message for line in store.logs("a")] == ["kept"]
    assert {s.run.run_id for s in store.runs()} == {
        old.run_id,
        only_old.run_id,
        newer.run_id,
        running.run_id,
    }
    # Once nothing of the old runs is anyone's status, they go entirely.
    store.append(
        [
            make_m(newer.run_id, "a", "p3", start=120, data_version=same["p3"]),
            make_m(newer.run_id, "a", "p4", start=121),
            make_m(newer.run_id, "b", "p1", start=125, data_version=retry.data_version),
        ]
    )
    deleted = store.prune(T0 + timedelta(seconds=105))
    assert deleted == {
        "logs": 1,
        "lineage": 0,
        "check_results": 0,
        "materializations": 3,
        "runs": 2,
    }
    assert {s.run.run_id for s in store.runs()} == {newer.run_id, running.run_id}


def test_naive_timestamps_are_refused(store: StateStore) -> None:
    run = make_run()
    naive = make_run(run.run_id)
    object.__setattr__(naive, "started_at", run.started_at.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        store.start_run(naive)
    assert not store.path.exists()
