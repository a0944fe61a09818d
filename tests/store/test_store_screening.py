"""What screening reads from the status cache: ``inputs_changed`` kept up to date as batches
arrive (readers flagged, successes flagged on arrival, reset by the partition's own next success,
sticky until then and exact after a rebuild or the v1 -> v2 migration), the one-scan screen of
the cache, and snapshots of a few partitions."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
from store_factories import T0, at, make_m, make_run, reads

from assetflow.planner.screen import AssetScreen, ScreenSpec
from assetflow.records import LineageRecord, MaterializationRecord, StepStatus
from assetflow.store import MIGRATIONS, StateStore
from assetflow.store.screening import Screened

OK, FAILED, SKIPPED = StepStatus.SUCCESS, StepStatus.FAILED, StepStatus.SKIPPED

Node = tuple[str, str]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.duckdb"


@pytest.fixture
def store(path: Path) -> StateStore:
    return StateStore(path)


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` read straight from the file (read-only, closed again at once)."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _flags(path: Path) -> dict[Node, bool]:
    rows = _query(path, "SELECT asset, partition, inputs_changed FROM partition_status")
    return {(asset, partition): changed for asset, partition, changed in rows}


def _flagged(path: Path) -> set[Node]:
    return {node for node, changed in _flags(path).items() if changed}


def _status(path: Path, asset: str, partition: str = "p1") -> dict[str, Any]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        cursor = connection.execute(
            "SELECT * FROM partition_status WHERE asset = ? AND partition = ?", [asset, partition]
        )
        row = cursor.fetchone()
        assert row is not None, f"no status row for {asset}[{partition}]"
        names = [column[0] for column in cursor.description or ()]
    finally:
        connection.close()
    return dict(zip(names, row, strict=True))


def _truly_changed(store: StateStore) -> set[Node]:
    """The exact rule, from the planner's snapshot: a last success read an upstream partition
    at another data version than that partition's last success has now (None: no success)."""
    snapshot = store.snapshot()

    def current(asset: str, partition: str) -> str | None:
        state = snapshot.get((asset, partition))
        if state is None or state.last_success is None:
            return None
        return state.last_success.data_version

    return {
        node
        for node, state in snapshot.items()
        if state.last_success is not None
        and any(
            read.data_version != current(read.asset, read.partition)
            for read in state.last_success.inputs
        )
    }


# --- 1. readers are flagged when an upstream partition gets another data version -------------


@pytest.mark.parametrize(
    ("new_version", "changed"),
    [("v2", True), ("v1", False)],  # the same version again is no change (early cutoff)
    ids=["new-version", "early-cutoff"],
)
def test_readers_are_flagged_when_an_upstream_gets_another_data_version(
    store: StateStore, path: Path, new_version: str, changed: bool
) -> None:
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    other = make_m(run.run_id, "a", "p2", start=0, data_version="w1")
    store.append([a1, other])
    b = make_m(run.run_id, "b", "p1", start=2)
    b_other = make_m(run.run_id, "b", "p2", start=2)
    store.append([b, b_other], [*reads(b, a1), *reads(b_other, other)])
    assert _flags(path) == {
        ("a", "p1"): False,
        ("a", "p2"): False,
        ("b", "p1"): False,
        ("b", "p2"): False,
    }

    store.append([make_m(run.run_id, "a", "p1", start=4, data_version=new_version)])
    assert _flags(path) == {
        ("a", "p1"): False,
        ("a", "p2"): False,
        ("b", "p1"): changed,
        ("b", "p2"): False,  # read another partition of a
    }
    assert _flagged(path) == _truly_changed(store)


def test_a_failure_or_a_skip_of_the_upstream_flags_no_reader(store: StateStore, path: Path) -> None:
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    b = make_m(run.run_id, "b", "p1", start=2)
    store.append([a1, b], reads(b, a1))
    store.append([make_m(run.run_id, "a", "p1", FAILED, start=4)])
    store.append([make_m(run.run_id, "a", "p1", SKIPPED, start=6)])
    # A success arriving late (older than a's last success) does not replace it either.
    store.append([make_m(run.run_id, "a", "p1", start=-5, end=-4, data_version="v0")])
    assert _flags(path)[("b", "p1")] is False


# --- 2. a success whose inputs were already superseded is flagged on arrival ---------------


def test_a_success_that_read_a_superseded_version_is_flagged_on_arrival(
    store: StateStore, path: Path
) -> None:
    run, other_run = make_run(), make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    store.append([a1])
    store.append([make_m(run.run_id, "a", "p1", start=4, data_version="v2")])
    # Another run read v1 before a was rematerialized, and records b only now.
    b = make_m(other_run.run_id, "b", "p1", start=2, end=6)
    store.append([b], reads(b, a1))
    assert _flags(path)[("b", "p1")] is True
    assert _flagged(path) == _truly_changed(store)


@pytest.mark.parametrize(
    ("read_new", "changed"), [(True, False), (False, True)], ids=["read-new", "read-old"]
)
def test_one_batch_with_the_upstream_success_and_its_reader(
    store: StateStore, path: Path, read_new: bool, changed: bool
) -> None:
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    store.append([a1])
    a2 = make_m(run.run_id, "a", "p1", start=2, data_version="v2")
    b = make_m(run.run_id, "b", "p1", start=4)
    store.append([a2, b], reads(b, a2 if read_new else a1))
    assert _flags(path) == {("a", "p1"): False, ("b", "p1"): changed}


# --- 3. only the partition's own next success resets the flag ------------------------------


def test_the_flag_survives_failures_and_skips_and_resets_with_the_next_success(
    store: StateStore, path: Path
) -> None:
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    b1 = make_m(run.run_id, "b", "p1", start=2, inputs_version="i1")
    store.append([a1, b1], reads(b1, a1))
    a2 = make_m(run.run_id, "a", "p1", start=4, data_version="v2")
    store.append([a2])
    flagged = _status(path, "b")
    assert flagged["inputs_changed"] is True
    assert flagged["last_success_inputs_version"] == "i1"

    failure = make_m(run.run_id, "b", "p1", FAILED, start=6)
    store.append([failure])
    after_failure = _status(path, "b")
    assert after_failure["last_attempt_status"] == "failed"
    assert after_failure["last_attempt_id"] == failure.id
    # The failure replaces the last attempt, not the last success and what belongs to it.
    assert after_failure["last_success_id"] == b1.id
    assert after_failure["last_success_inputs_version"] == "i1"
    assert after_failure["inputs_changed"] is True

    store.append([make_m(run.run_id, "b", "p1", SKIPPED, start=7)])
    assert _status(path, "b") == after_failure

    # A success arriving late, older than the last success, is not the next success.
    late = make_m(run.run_id, "b", "p1", start=1.5, end=2.5, inputs_version="i0")
    store.append([late], reads(late, a2))
    assert _status(path, "b") == after_failure  # still b1's flag; the failure is still last

    b2 = make_m(run.run_id, "b", "p1", start=8, inputs_version="i2")
    store.append([b2], reads(b2, a2))
    reset = _status(path, "b")
    assert reset["last_success_id"] == b2.id
    assert reset["last_success_inputs_version"] == "i2"
    assert reset["inputs_changed"] is False
    assert reset["last_attempt_status"] == "success"
    assert _flagged(path) == _truly_changed(store) == set()
    assert store.snapshot() == store.snapshot_from_history()


# --- 4. reading a partition that had no success yet ------------------------------------------


def test_a_reader_of_a_never_successful_partition_is_flagged_when_it_first_succeeds(
    store: StateStore, path: Path
) -> None:
    run = make_run()
    store.append([make_m(run.run_id, "a", "p1", FAILED, start=0)])
    b = make_m(run.run_id, "b", "p1", start=2)
    c = make_m(run.run_id, "c", "p1", start=2)
    nothing = [
        LineageRecord(b.id, "a", "p1", None, None),  # attempted, failed
        LineageRecord(c.id, "a", "p2", None, None),  # never attempted: no status row at all
    ]
    store.append([b, c], nothing)
    assert _flags(path) == {("a", "p1"): False, ("b", "p1"): False, ("c", "p1"): False}

    store.append([make_m(run.run_id, "a", "p1", start=4)])
    assert _flagged(path) == {("b", "p1")}
    store.append([make_m(run.run_id, "a", "p2", start=4)])
    assert _flagged(path) == {("b", "p1"), ("c", "p1")} == _truly_changed(store)


# --- 5. sticky in the cache, exact after a rebuild ------------------------------------------


def test_the_flag_is_sticky_in_the_cache_and_exact_after_a_rebuild(
    store: StateStore, path: Path
) -> None:
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0, data_version="v1")
    b = make_m(run.run_id, "b", "p1", start=2)
    store.append([a1, b], reads(b, a1))
    store.append([make_m(run.run_id, "a", "p1", start=4, data_version="v2")])
    assert _flags(path)[("b", "p1")] is True
    store.append([make_m(run.run_id, "a", "p1", start=6, data_version="v1")])
    assert _flags(path)[("b", "p1")] is True  # sticky: back to what b read, still flagged
    assert _truly_changed(store) == set()

    snapshot = store.snapshot()
    store.rebuild_status()
    assert _flags(path)[("b", "p1")] is False
    assert store.snapshot() == snapshot


def _random_history(
    seed: int,
) -> list[tuple[list[MaterializationRecord], list[LineageRecord]]]:
    """Batches over a small graph a <- b <- c, with two data versions (so upstreams return to
    a version read before), failures, skips, late arrivals, reads of older versions and reads
    of partitions without a success."""
    rng = random.Random(seed)
    run = make_run()
    nodes = [(asset, partition) for asset in "abc" for partition in ("p1", "p2")]
    successes: list[MaterializationRecord] = []
    batches = []
    for _ in range(7):
        records: list[MaterializationRecord] = []
        lineage: list[LineageRecord] = []
        for _ in range(rng.randint(2, 4)):
            asset, partition = rng.choice(nodes)
            status = rng.choice([OK, OK, OK, OK, FAILED, SKIPPED])
            end = rng.randint(1, 40)
            m = make_m(
                run.run_id,
                asset,
                partition,
                status,
                start=end - 1,
                end=end,
                data_version=rng.choice(["v1", "v2"]) if status == OK else None,
            )
            records.append(m)
            if status != OK or asset == "a":
                continue
            upstreams = [node for node in nodes if node[0] < asset]
            for upstream in rng.sample(upstreams, rng.randint(1, 2)):
                seen = [u for u in successes if (u.asset, u.partition) == upstream]
                if not seen:
                    lineage.append(LineageRecord(m.id, *upstream, None, None))
                    continue
                u = seen[-1] if rng.random() < 0.6 else rng.choice(seen)
                lineage.append(LineageRecord(m.id, u.asset, u.partition, u.id, u.data_version))
        successes += [m for m in records if m.status == OK]
        batches.append((records, lineage))
    return batches


def _expected_changed(
    records: list[MaterializationRecord], lineage: list[LineageRecord]
) -> set[Node]:
    """The exact rule in plain Python over all records so far (independent of the store)."""
    last: dict[Node, MaterializationRecord] = {}
    for m in records:
        node = (m.asset, m.partition)
        if m.status == OK and (
            node not in last or (m.ended_at, m.id) > (last[node].ended_at, last[node].id)
        ):
            last[node] = m
    last_ids = {m.id: node for node, m in last.items()}
    changed: set[Node] = set()
    for link in lineage:
        reader = last_ids.get(link.materialization_id)
        upstream = last.get((link.upstream_asset, link.upstream_partition))
        now = None if upstream is None else upstream.data_version
        if reader is not None and link.upstream_data_version != now:
            changed.add(reader)
    return changed


# Seeds picked for what they hold: 6 flags every reader, and 11 ends with a sticky flag.
@pytest.mark.parametrize("seed", [0, 6, 11])
def test_flags_over_a_history_over_approximate_and_a_rebuild_makes_them_exact(
    tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "state.duckdb"
    store = StateStore(path)
    records: list[MaterializationRecord] = []
    lineage: list[LineageRecord] = []
    for batch, batch_lineage in _random_history(seed):
        store.append(batch, batch_lineage)
        records += batch
        lineage += batch_lineage
        # Never misses a changed partition, at any point.
        assert _expected_changed(records, lineage) <= _flagged(path)
    truth = _expected_changed(records, lineage)
    assert truth == _truly_changed(store)
    before = _flagged(path)
    store.rebuild_status()
    after = _flagged(path)
    assert after <= before
    assert after == truth
    if seed == 11:
        assert after < before  # the generator still exercises an upstream going back


# --- 6. the one-scan screen of the cache ----------------------------------------------------


def test_screen_finds_exactly_the_existing_partitions_with_a_direct_reason(
    store: StateStore,
) -> None:
    run = make_run()

    def ok(
        asset: str, partition: str, start: float, end: float | None = None
    ) -> MaterializationRecord:
        """A success at the code and inputs versions of the spec below."""
        return make_m(
            run.run_id,
            asset,
            partition,
            start=start,
            end=end,
            code_version="c1",
            inputs_version="i1",
        )

    a_p1 = ok("a", "p1", start=0)
    store.append(
        [
            a_p1,
            # failed after a success: the latest success time still counts
            ok("a", "p2", start=0, end=30),
            make_m(run.run_id, "a", "p2", FAILED, start=40),
            make_m(run.run_id, "a", "p3", start=0, code_version="c0", inputs_version="i1"),
            make_m(run.run_id, "a", "p4", start=0, code_version="c1", inputs_version="i0"),
            make_m(run.run_id, "a", "p5", start=0, code_version="c1"),  # no inputs version (v1)
            make_m(run.run_id, "a", "p6", FAILED, start=0),  # never succeeded
            # p7 never attempted. p9 is no existing key: its changed code and newer success
            # are ignored.
            make_m(run.run_id, "a", "p9", start=0, end=100, code_version="c0"),
            # not in the spec at all
            make_m(run.run_id, "z", "p1", start=0, code_version="c0"),
        ]
    )
    b_p1 = ok("b", "p1", start=2)
    b_p2 = ok("b", "p2", start=2, end=20)
    store.append([b_p1, b_p2], [*reads(b_p1, a_p1), *reads(b_p2, a_p1)])
    a_p1_again = ok("a", "p1", start=4)  # another data version
    store.append([a_p1_again])
    b_p2_again = ok("b", "p2", start=24, end=25)  # reads a at v2 again
    store.append([b_p2_again], reads(b_p2_again, a_p1_again))
    store.append([ok("e", "k1", start=0, end=50)])
    assert _flags(store.path)[("b", "p1")] is True

    a_keys = ("p1", "p2", "p3", "p4", "p5", "p6", "p7")
    spec = ScreenSpec(
        now=at(200),
        assets=(
            AssetScreen("a", "c1", "i1", group=0, verify=False),
            AssetScreen("b", "c1", "i1", group=1, verify=False),
            AssetScreen("d", "c1", "i1", group=1, verify=True),  # no history at all
            AssetScreen("e", "c1", "i1", group=2, verify=False),  # all fresh
        ),
        key_lists=(a_keys, ("p1", "p2", "p3"), ("k1",)),
    )
    screened = store.screen(spec)
    assert isinstance(screened, Screened)
    assert {name: sorted(keys) for name, keys in screened.direct.items()} == {
        "a": ["p2", "p3", "p4", "p5", "p6", "p7"],
        "b": ["p1", "p3"],
        "d": ["p1", "p2", "p3"],
    }
    assert screened.last_success_at == {
        "a": at(30),  # a[p9] at 100 is no existing key
        "b": at(25),
        "d": None,
        "e": at(50),
    }
    assert all(
        moment is None or moment.tzinfo is not None for moment in screened.last_success_at.values()
    )


def test_screen_of_an_asset_whose_existing_keys_are_all_unattempted(store: StateStore) -> None:
    run = make_run()
    store.append([make_m(run.run_id, "a", "old", start=0, code_version="c1")])
    spec = ScreenSpec(
        now=T0,
        assets=(AssetScreen("a", "c1", "i1", group=0, verify=False),),
        key_lists=(("p1", "p2"),),
    )
    screened = store.screen(spec)
    assert {name: sorted(keys) for name, keys in screened.direct.items()} == {"a": ["p1", "p2"]}
    assert screened.last_success_at == {"a": None}
    empty = ScreenSpec(now=T0, assets=(), key_lists=())
    assert store.screen(empty) == Screened({}, {})


# --- 7. snapshots of a few partitions -------------------------------------------------------


def test_snapshot_of_equals_the_matching_part_of_the_snapshot(store: StateStore) -> None:
    assert store.snapshot_of([("a", "p1")]) == {}  # no file yet
    run = make_run()
    a1 = make_m(run.run_id, "a", "p1", start=0)
    a2 = make_m(run.run_id, "a", "p2", start=0)
    b1 = make_m(run.run_id, "b", "p1", start=2)
    b2 = make_m(run.run_id, "b", "p2", start=2)
    store.append(
        [a1, a2, b1, b2, make_m(run.run_id, "b", "p2", FAILED, start=4)],
        [*reads(b1, a1, a2), *reads(b2, a2)],
    )
    snapshot = store.snapshot()
    b1_success = snapshot[("b", "p1")].last_success
    assert b1_success is not None and len(b1_success.inputs) == 2

    for nodes in (
        [("a", "p1"), ("b", "p2")],  # not the cross pairs (a, p2) and (b, p1)
        [("b", "p1"), ("b", "p2"), ("nope", "p1"), ("a", "p9")],
        list(snapshot),
        [("b", "p1"), ("b", "p1")],
    ):
        assert store.snapshot_of(nodes) == {n: s for n, s in snapshot.items() if n in nodes}
    assert store.snapshot_of(set(snapshot)) == snapshot
    assert store.snapshot_of([]) == {}
    assert store.snapshot_of([("nope", "p1"), ("a", "p3")]) == {}


# --- 8. the v1 -> v2 migration computes the flags from history -----------------------------


def test_a_v1_file_gets_its_flags_from_history_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    run = make_run()
    StateStore(path, migrations=MIGRATIONS[:1]).start_run(run)
    # The current codec writes inputs_version, so the v1 history is written as v1 would.
    # materializations: id, run, asset, partition, status, end, data version, error
    history = [
        (1, "a", "success", 1, "v1", None),  # a[p1] at v1
        (2, "b", "success", 3, "w1", None),  # b read a at v1
        (3, "a", "success", 5, "v2", None),  # a rematerialized: v2
        (4, "c", "success", 7, "x1", None),  # c read a at v2
        (5, "c", "failed", 9, None, "ValueError: no"),
    ]
    # partition_status: asset, last success id and data version, last attempt id
    status = [("a", 3, "v2", 3), ("b", 2, "w1", 2), ("c", 4, "x1", 5)]
    ended = {mid: at(end) for mid, _, _, end, _, _ in history}
    errors = {mid: error for mid, *_, error in history}
    connection = duckdb.connect(str(path))
    try:
        assert connection.execute("SELECT value FROM meta").fetchall() == [("1",)]
        assert len(connection.execute("DESCRIBE materializations").fetchall()) == 16
        assert len(connection.execute("DESCRIBE partition_status").fetchall()) == 10
        for mid, asset, state, end, version, error in history:
            connection.execute(
                "INSERT INTO materializations VALUES "
                "(?, ?, ?, 'p1', 1, ?, ?, ?, 1.0, 'c1', ?, NULL, NULL, ?, NULL, NULL)",
                [mid, run.run_id, asset, state, at(end - 1), at(end), version, error],
            )
        connection.execute(
            "INSERT INTO lineage VALUES (2, 'a', 'p1', 1, 'v1'), (4, 'a', 'p1', 3, 'v2')"
        )
        for asset, success, version, attempt in status:
            connection.execute(
                "INSERT INTO partition_status VALUES (?, 'p1', ?, 'c1', ?, ?, ?, ?, ?, ?)",
                [
                    asset,
                    success,
                    version,
                    ended[success],
                    attempt,
                    "failed" if errors[attempt] else "success",
                    ended[attempt],
                    errors[attempt],
                ],
            )
    finally:
        connection.close()

    store = StateStore(path)
    snapshot = store.snapshot()  # a read migrates an older file
    assert _query(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(len(MIGRATIONS)),)
    ]
    assert _flags(path) == {("a", "p1"): False, ("b", "p1"): True, ("c", "p1"): False}
    assert _query(
        path, "SELECT count(*) FROM partition_status WHERE last_success_inputs_version IS NULL"
    ) == [(3,)]
    assert _query(path, "SELECT count(*) FROM materializations WHERE inputs_version IS NULL") == [
        (5,)
    ]
    assert snapshot == store.snapshot_from_history()
    assert set(snapshot) == {("a", "p1"), ("b", "p1"), ("c", "p1")}
    c = snapshot[("c", "p1")]
    assert c.latest_failed and c.latest_error == "ValueError: no"
    b = snapshot[("b", "p1")].last_success
    assert b is not None and [(i.data_version, i.materialization_id) for i in b.inputs] == [
        ("v1", 1)
    ]
    assert [m.id for m in store.run_steps(run.run_id)] == [1, 2, 3, 4, 5]
