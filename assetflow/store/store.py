"""StateStore: the run history and current status of a project, in one DuckDB file.

Every call opens the file, runs one short transaction and closes it again, so other processes
can read and write between calls (see :mod:`assetflow.store.connection`). Writes arrive in
batches through :meth:`StateStore.append` (a :class:`~assetflow.store.recorder.Recorder` does
the batching for a run); reads open the file read-only, and a file that does not exist yet
reads as an empty history without being created.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from assetflow.errors import StateError
from assetflow.planner.screen import ScreenSpec
from assetflow.records import (
    BackfillRecord,
    CheckRecord,
    LineageRecord,
    LogRecord,
    MaterializationRecord,
    PartitionState,
    RunRecord,
    RunStatus,
    this_host,
    utcnow,
)
from assetflow.store import alerts as _alerts
from assetflow.store import backfills as _backfills
from assetflow.store import checks as _checks
from assetflow.store import history, liveness, screening
from assetflow.store import leases as _leases
from assetflow.store import ticks as _ticks
from assetflow.store.codec import (
    LINEAGE_COLUMNS,
    LOG_COLUMNS,
    MATERIALIZATION_COLUMNS,
    RUN_COLUMNS,
    create_temp_table,
    insert_rows,
    lineage_row,
    log_row,
    materialization_row,
    run_row,
    select_list,
    utc,
)
from assetflow.store.connection import LOCK_TIMEOUT_S, open_connection
from assetflow.store.history import LogLine, RunSummary
from assetflow.store.prune import prune as _prune
from assetflow.store.schema import (
    MIGRATIONS,
    Migration,
    check_not_newer,
    ensure_schema,
    schema_version,
)
from assetflow.store.screening import Screened
from assetflow.store.status import (
    STATUS_COLUMNS,
    StatusRow,
    build_snapshot,
    flag_changed_inputs,
    history_status_sql,
    read_lineage_inputs,
    recompute_changed_inputs,
    update_status,
)

__all__ = ["StateStore"]

# Reads of a state file that does not exist yet see these (one per schema length, since tests
# inject migrations): creating the schema costs ~25 ms, and a plan reads several times.
_EMPTY_DATABASES: dict[int, duckdb.DuckDBPyConnection] = {}

Node = tuple[str, str]
Snapshot = dict[Node, PartitionState]


class StateStore:
    """The state file at ``path``: append-only history plus a per-partition status cache.

    ``migrations`` is the schema's migration list (injectable so tests can add a version);
    ``lock_timeout`` bounds how long a call waits for another process holding the file.
    """

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        lock_timeout: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self._migrations = tuple(migrations)
        self._lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"

    # --- sessions -----------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-write transaction on the file, creating it (and its folder) if needed."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"cannot create the folder of the state file {self.path}: {error}"
            ) from error
        with open_connection(self.path, False, self._lock_timeout) as connection:
            ensure_schema(connection, self.path, self._migrations)
            connection.begin()
            try:
                yield connection
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    @contextmanager
    def reading_session(self) -> Iterator[None]:
        """Reads of this file inside the block, in this thread, share one read-only connection
        (one open instead of one per read: a screen that makes several reads). Keep the block
        short: an open connection keeps writers out of the file meanwhile."""
        key = str(self.path)
        if key in _shared_readers():
            yield
            return
        with self._reading() as connection:
            _shared_readers()[key] = connection
            try:
                yield
            finally:
                del _shared_readers()[key]

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; an empty in-memory history when there is no file yet."""
        shared = _shared_readers().get(str(self.path))
        if shared is not None:
            yield shared
            return
        if not self.path.exists():
            with self._empty() as connection:
                yield connection
            return
        with open_connection(self.path, True, self._lock_timeout) as connection:
            version = schema_version(connection, self.path)
            check_not_newer(version, self.path, self._migrations)
            if version == len(self._migrations):
                yield connection
                return
        if version == 0:
            # An empty DuckDB file (left so by something else) holds no history, and a read
            # must not write to it.
            with self._empty() as connection:
                yield connection
            return
        with self._writing():
            pass  # an older file: migrating it is the one write a read may cause
        with open_connection(self.path, True, self._lock_timeout) as connection:
            yield connection

    @contextmanager
    def _empty(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on an empty in-memory history with this store's schema (made once)."""
        key = len(self._migrations)
        database = _EMPTY_DATABASES.get(key)
        if database is None:
            database = duckdb.connect(":memory:")
            ensure_schema(database, self.path, self._migrations)
            _EMPTY_DATABASES[key] = database
        cursor = database.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    # --- writes ---------------------------------------------------------------------------------

    def append(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        lineage: Sequence[LineageRecord] = (),
        logs: Sequence[LogRecord] = (),
        runs_started: Sequence[RunRecord] = (),
        runs_ended: Sequence[tuple[str, RunStatus, datetime]] = (),
        heartbeats: Sequence[tuple[str, datetime]] = (),
        checks: Sequence[CheckRecord] = (),
    ) -> None:
        """Record a batch in one transaction, and fold its attempts into the status cache.

        Started runs are inserted first and ended runs updated last, so one batch may hold a
        whole run. A success updates its partition's last success and last attempt, a failure
        its last attempt and error; a skipped step changes no status.
        """
        if (
            not (materializations or lineage or logs or runs_started or runs_ended or heartbeats)
            and not checks
        ):
            return
        # Convert before opening, so that a bad record fails without touching the file.
        run_rows = [run_row(run) for run in runs_started]
        m_rows = [materialization_row(m) for m in materializations]
        lineage_rows = [lineage_row(record) for record in lineage]
        log_rows = [log_row(record) for record in logs]
        ended = [(run_id, str(status), utc(at)) for run_id, status, at in runs_ended]
        with self._writing() as connection:
            insert_rows(connection, "runs", RUN_COLUMNS, run_rows)
            if m_rows:
                # Staged once, then both appended and folded into the status cache.
                create_temp_table(connection, "batch", MATERIALIZATION_COLUMNS, m_rows)
                names = select_list(MATERIALIZATION_COLUMNS)
                connection.execute(
                    f"INSERT INTO materializations ({names}) SELECT {names} FROM batch"
                )
                update_status(connection, "batch")
            insert_rows(connection, "lineage", LINEAGE_COLUMNS, lineage_rows)
            if m_rows:
                flag_changed_inputs(connection, "batch")
                _leases.release_steps(connection, "batch")
                connection.execute("DROP TABLE batch")
            insert_rows(connection, "logs", LOG_COLUMNS, log_rows)
            _checks.insert_checks(connection, checks)
            for run_id, at in heartbeats:
                connection.execute(
                    "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = 'running'",
                    [utc(at), run_id],
                )
            if ended:
                connection.execute(
                    """
                    UPDATE runs SET status = e.status, ended_at = e.ended_at
                    FROM (SELECT UNNEST(?::VARCHAR[]) AS run_id, UNNEST(?::VARCHAR[]) AS status,
                                 UNNEST(?::TIMESTAMPTZ[]) AS ended_at) e
                    WHERE runs.run_id = e.run_id
                    """,
                    [list(column) for column in zip(*ended, strict=True)],
                )
                _leases.release_runs(connection, [run_id for run_id, _, _ in ended])

    def latest_checks(self, assets: Iterable[str] | None = None) -> list[CheckRecord]:
        """Each (asset, check)'s most recent result, by asset and check name."""
        with self._reading() as connection:
            return _checks.latest_checks(connection, assets)

    def failing_checks(self, assets: Iterable[str] | None = None) -> list[CheckRecord]:
        """Failed checks on the data partitions hold now (their last success's results)."""
        with self._reading() as connection:
            return _checks.failing_checks(connection, assets)

    def start_run(self, run: RunRecord) -> None:
        """Record that ``run`` started."""
        self.append(runs_started=[run])

    def end_run(self, run_id: str, status: RunStatus, ended_at: datetime) -> None:
        """Record how and when a run ended."""
        self.append(runs_ended=[(run_id, status, ended_at)])

    def heartbeat(self, run_id: str, at: datetime) -> None:
        """Record that ``run_id`` is still alive at ``at``."""
        with self._writing() as connection:
            connection.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", [utc(at), run_id]
            )

    def rebuild_status(self) -> None:
        """Rewrite the status cache from history (a repair; the cache is normally kept)."""
        names = ", ".join(name for name, _ in STATUS_COLUMNS)
        with self._writing() as connection:
            connection.execute("DELETE FROM partition_status")
            connection.execute(f"INSERT INTO partition_status ({names}) " + history_status_sql())
            recompute_changed_inputs(connection)

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete the history of runs that ended before ``before``; counts deleted per table.

        Materializations that are a partition's last success or last attempt are kept (with
        their run), so no status changes. The only delete in assetflow.
        """
        with self._writing() as connection:
            return _prune(connection, before)

    # --- status -----------------------------------------------------------------------------

    def snapshot(self, assets: Iterable[str] | None = None) -> Snapshot:
        """What the status cache says about every attempted partition (of ``assets``)."""
        with self._reading() as connection:
            return self._snapshot(connection, assets)

    @staticmethod
    def _snapshot(connection: duckdb.DuckDBPyConnection, assets: Iterable[str] | None) -> Snapshot:
        names = ", ".join(name for name, _ in STATUS_COLUMNS)
        where, parameters = _asset_filter(assets, "WHERE")
        rows = [
            StatusRow.from_row(row)
            for row in connection.execute(
                f"SELECT {names} FROM partition_status {where}", parameters
            ).fetchall()
        ]
        inputs = read_lineage_inputs(
            connection, f"SELECT last_success_id FROM partition_status {where}", parameters
        )
        return build_snapshot(rows, inputs)

    def screen(self, spec: ScreenSpec) -> Screened:
        """The existing partitions with a direct reason to be stale, in one scan of the cache
        (see :mod:`assetflow.planner.screen`), and each asset's latest success time."""
        with self._reading() as connection:
            return screening.scan(connection, spec)

    def screen_then_read(
        self, spec: ScreenSpec, needed: Callable[[Screened], Collection[tuple[str, str]] | None]
    ) -> tuple[Screened, Snapshot]:
        """:meth:`screen`, then the snapshot of the partitions ``needed`` asks for given what
        the scan found (the whole cache if it answers None), on one connection."""
        with self._reading() as connection:
            screened = screening.scan(connection, spec)
            screened = replace(screened, running=self._leased(connection))
            nodes = needed(screened)
            if nodes is None:
                return screened, self._snapshot(connection, None)
            return screened, screening.snapshot_of(connection, nodes)

    def snapshot_of(self, nodes: Collection[tuple[str, str]]) -> Snapshot:
        """:meth:`snapshot` of just ``nodes`` (the partitions a screened evaluation reads)."""
        with self._reading() as connection:
            return screening.snapshot_of(connection, nodes)

    def snapshot_from_history(self, assets: Iterable[str] | None = None) -> Snapshot:
        """:meth:`snapshot` recomputed from the append-only history, ignoring the cache."""
        where, parameters = _asset_filter(assets, "AND")
        with self._reading() as connection:
            rows = [
                StatusRow.from_row(row)
                for row in connection.execute(history_status_sql(where), parameters).fetchall()
            ]
            ids = [row.last_success_id for row in rows if row.last_success_id is not None]
            inputs = read_lineage_inputs(connection, "SELECT UNNEST(?::BIGINT[])", [ids])
        return build_snapshot(rows, inputs)

    def latest_success_id(self, asset: str, partition: str) -> int | None:
        """The id of the last successful materialization of ``asset[partition]``, if any."""
        with self._reading() as connection:
            return history.latest_success_id(connection, asset, partition)

    def durations(self, assets: Iterable[str]) -> dict[str, float]:
        """The median duration in seconds of each asset's recent successes, for estimates."""
        with self._reading() as connection:
            return history.durations(connection, sorted(set(assets)))

    # --- history ------------------------------------------------------------------------------

    def runs(
        self, limit: int = 20, status: str | None = None, asset: str | None = None
    ) -> list[RunSummary]:
        """The newest runs first, optionally only those with ``status`` or touching ``asset``.

        A ``running`` run whose process is gone shows as ``crashed`` (see liveness).
        """
        # A dead run is still stored as running: ask for both, then filter what they are now.
        stored = RunStatus.RUNNING.value if status == RunStatus.CRASHED.value else status
        with self._reading() as connection:
            found = history.runs(connection, limit, stored, asset)
            if status == RunStatus.CRASHED.value:
                found += history.runs(connection, limit, status, asset)
        now, host = utcnow(), this_host()
        summaries = [replace(s, run=liveness.effective(s.run, now, host)) for s in found]
        if status is not None:
            summaries = [s for s in summaries if s.run.status == status]
        summaries.sort(key=lambda s: (s.run.started_at, s.run.run_id), reverse=True)
        return summaries[:limit]

    def run(self, run_id: str) -> RunRecord | None:
        """The run with this id or unique id prefix (an ambiguous prefix is a StateError)."""
        with self._reading() as connection:
            found = history.run(connection, run_id)
        return None if found is None else liveness.effective(found, utcnow(), this_host())

    def live_runs(self) -> list[RunRecord]:
        """The runs that are running now (alive, per liveness)."""
        with self._reading() as connection:
            found = history.runs(connection, 1_000, RunStatus.RUNNING.value, None)
        now, host = utcnow(), this_host()
        return [s.run for s in found if liveness.is_alive(s.run, now, host)]

    # --- leases (see assetflow.store.leases) ---------------------------------------------------

    def acquire_leases(self, run_id: str, nodes: Collection[Node]) -> dict[Node, str]:
        """Claim ``nodes`` for ``run_id``; returns the ones other running runs hold."""
        with self._writing() as connection:
            return _leases.acquire(connection, run_id, nodes, utcnow())

    def lease_holders(self, nodes: Collection[Node]) -> dict[Node, str]:
        """Which running runs hold any of ``nodes``."""
        with self._reading() as connection:
            return _leases.holders(connection, nodes)

    def leased(self) -> dict[Node, str]:
        """Every partition a live run holds, and the run (``running`` in statuses)."""
        with self._reading() as connection:
            return self._leased(connection)

    @staticmethod
    def _leased(connection: duckdb.DuckDBPyConnection) -> dict[Node, str]:
        rows = connection.execute(
            "SELECT l.asset, l.partition, r.run_id, r.host, r.pid, r.heartbeat_at, "
            "r.started_at FROM leases l JOIN runs r ON r.run_id = l.run_id "
            "WHERE r.status = 'running'"
        ).fetchall()
        now, host = utcnow(), this_host()
        alive: dict[str, bool] = {}
        found: dict[Node, str] = {}
        for asset, partition, run_id, run_host, pid, beat, started in rows:
            if run_id not in alive:
                probe = RunRecord(
                    run_id,
                    "",
                    "",
                    {},
                    RunStatus.RUNNING,
                    utc(started),
                    host=run_host,
                    pid=pid,
                    heartbeat_at=None if beat is None else utc(beat),
                )
                alive[run_id] = liveness.is_alive(probe, now, host)
            if alive[run_id]:
                found[(asset, partition)] = run_id
        return found

    def successes_since(
        self, nodes: Collection[Node], since: datetime, run_id: str
    ) -> dict[Node, tuple[str, int, str | None]]:
        """Of ``nodes``, those whose last success another run than ``run_id`` recorded after
        ``since``: ``(run_id, materialization_id, data_version)``."""
        with self._reading() as connection:
            return _leases.successes_since(connection, nodes, since, run_id)

    def success_by(self, node: Node, since: datetime) -> tuple[str, int, str | None] | None:
        """``(run_id, materialization_id, data_version)`` of ``node``'s success that ended
        after ``since``, if there is one."""
        with self._reading() as connection:
            return _leases.success_by(connection, node, since)

    def record_crashed(self) -> list[str]:
        """Record every dead ``running`` run as ``crashed`` (ended at its last heartbeat);
        returns their ids. Runs call this as they start."""
        with self._reading() as connection:
            found = history.runs(connection, 1_000, RunStatus.RUNNING.value, None)
        now, host = utcnow(), this_host()
        dead = [s.run for s in found if not liveness.is_alive(s.run, now, host)]
        if dead:
            with self._writing() as connection:
                for run in dead:
                    # Only if still running: it may have ended since we looked.
                    connection.execute(
                        "UPDATE runs SET status = 'crashed', ended_at = ? "
                        "WHERE run_id = ? AND status = 'running'",
                        [utc(run.heartbeat_at or run.started_at), run.run_id],
                    )
        return [run.run_id for run in dead]

    def run_steps(self, run_id: str) -> list[MaterializationRecord]:
        """Every attempt and skipped step of a run, in start order."""
        with self._reading() as connection:
            return history.run_steps(connection, run_id)

    def attempts(self, asset: str, partition: str, limit: int = 8) -> list[MaterializationRecord]:
        """The last ``limit`` attempts and skipped steps of ``asset[partition]``, newest first."""
        with self._reading() as connection:
            return history.attempts(connection, asset, partition, limit)

    def materialization(self, materialization_id: int) -> MaterializationRecord | None:
        """One materialization by id."""
        with self._reading() as connection:
            return history.materialization(connection, materialization_id)

    def lineage_of(self, materialization_id: int) -> list[LineageRecord]:
        """What one materialization read, by upstream asset and partition."""
        with self._reading() as connection:
            return history.lineage_of(connection, materialization_id)

    def downstream_readers(self, materialization_id: int) -> list[MaterializationRecord]:
        """The materializations that read ``materialization_id``, in start order."""
        with self._reading() as connection:
            return history.downstream_readers(connection, materialization_id)

    def logs(
        self,
        asset: str,
        partition: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[LogLine]:
        """Captured log lines of ``asset`` (one partition, one run), the last ``limit`` ones."""
        with self._reading() as connection:
            return history.logs(connection, asset, partition, run_id, limit)

    # --- backfills ----------------------------------------------------------------------------

    def create_backfill(self, record: BackfillRecord) -> None:
        """Record a new backfill."""
        with self._writing() as connection:
            _backfills.create_backfill(connection, record)

    def update_backfill(
        self,
        backfill_id: str,
        *,
        status: RunStatus | None = None,
        done: int | None = None,
        run_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Update a backfill's status or progress, and append a run to it (once)."""
        with self._writing() as connection:
            found = _backfills.update_backfill(
                connection, backfill_id, at or utcnow(), status, done, run_id
            )
        if not found:
            raise StateError(f"no backfill {backfill_id!r} in {self.path}")

    def backfill(self, id_or_prefix: str) -> BackfillRecord | None:
        """The backfill with this id or unique id prefix (an ambiguous prefix is a StateError)."""
        with self._reading() as connection:
            found = _backfills.backfill(connection, id_or_prefix)
            return None if found is None else self._backfill_now(connection, found)

    def backfills(self, limit: int = 20) -> list[BackfillRecord]:
        """The newest backfills first."""
        with self._reading() as connection:
            found = _backfills.backfills(connection, limit)
            return [self._backfill_now(connection, record) for record in found]

    # --- schedule ticks (see assetflow.store.ticks) ---------------------------------------------

    def claim_tick(
        self, schedule: str, tick: datetime, claimed_by: str, coalesced: int = 0
    ) -> bool:
        """Claim one tick of a schedule; False if another scheduler claimed it first."""
        with self._writing() as connection:
            return _ticks.claim_tick(connection, schedule, tick, utcnow(), claimed_by, coalesced)

    def finish_tick(
        self,
        schedule: str,
        tick: datetime,
        status: str,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record what a claimed tick did (its run and that run's status, or why none)."""
        with self._writing() as connection:
            _ticks.finish_tick(connection, schedule, tick, status, run_id, detail)

    def last_ticks(self) -> dict[str, datetime]:
        """The latest claimed tick of each schedule."""
        with self._reading() as connection:
            return _ticks.last_ticks(connection)

    def ticks(self, schedule: str | None = None, limit: int = 100) -> list[_ticks.TickRecord]:
        """Claimed ticks, newest first."""
        with self._reading() as connection:
            return _ticks.ticks(connection, schedule, limit)

    # --- alerts (see assetflow.store.alerts) ----------------------------------------------------

    def record_delivery(self, record: _alerts.DeliveryRecord) -> int:
        """Append one alert delivery; returns its id."""
        with self._writing() as connection:
            return _alerts.record_delivery(connection, record)

    def deliveries(
        self, limit: int = 100, event: str | None = None
    ) -> list[_alerts.DeliveryRecord]:
        """The newest alert deliveries first."""
        with self._reading() as connection:
            return _alerts.deliveries(connection, limit, event)

    def open_incident(self, incident: _alerts.IncidentRecord) -> bool:
        """Open an alert incident unless its dedup key is open; returns whether it opened."""
        with self._writing() as connection:
            return _alerts.open_incident(connection, incident)

    def resolve_incident(self, dedup_key: str, at: datetime) -> bool:
        """Resolve the open incident with this dedup key; returns whether one was open."""
        with self._writing() as connection:
            return _alerts.resolve_incident(connection, dedup_key, at)

    def open_incidents(self, event: str | None = None) -> list[_alerts.IncidentRecord]:
        """The open alert incidents, oldest first."""
        with self._reading() as connection:
            return _alerts.open_incidents(connection, event)

    @staticmethod
    def _backfill_now(
        connection: duckdb.DuckDBPyConnection, record: BackfillRecord
    ) -> BackfillRecord:
        """The backfill as its runs recorded it, not as its last update left it.

        Its runs are the ones naming it (a run killed before it could link itself still
        does); ``done`` counts the distinct partitions they materialized, so progress shows
        while a run goes on and survives kill -9; its status is its last run's (``crashed``
        if that died), so an interrupted final update never leaves it ``running``.
        """
        linked = [
            str(run_id)
            for (run_id,) in connection.execute(
                "SELECT run_id FROM runs WHERE backfill_id = ? ORDER BY started_at, run_id",
                [record.backfill_id],
            ).fetchall()
        ]
        ordered = (*linked, *(run_id for run_id in record.run_ids if run_id not in linked))
        if not ordered:
            return record
        (done,) = connection.execute(
            "SELECT count(*) FROM (SELECT DISTINCT asset, partition FROM materializations"
            " WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])) AND status = 'success')",
            [list(ordered)],
        ).fetchone() or (0,)
        last = history.run(connection, ordered[-1])
        status = record.status
        if last is not None:
            status = liveness.effective(last, utcnow(), this_host()).status
        # The recorded figure stays a floor: pruning may have deleted the runs' old records.
        done = max(record.done, min(int(done), record.total))
        return replace(record, run_ids=ordered, done=done, status=status)


_THREAD = threading.local()


def _shared_readers() -> dict[str, duckdb.DuckDBPyConnection]:
    """This thread's open reading sessions, by state file path."""
    found: dict[str, duckdb.DuckDBPyConnection] | None = getattr(_THREAD, "readers", None)
    if found is None:
        found = _THREAD.readers = {}
    return found


def _asset_filter(assets: Iterable[str] | None, keyword: str) -> tuple[str, list[object]]:
    if assets is None:
        return "", []
    return f"{keyword} asset IN (SELECT UNNEST(?::VARCHAR[]))", [sorted(set(assets))]
