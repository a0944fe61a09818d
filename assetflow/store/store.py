"""StateStore: the run history and current status of a project, in one DuckDB file.

Every call opens the file, runs one short transaction and closes it again, so other processes
can read and write between calls (see :mod:`assetflow.store.connection`). Writes arrive in
batches through :meth:`StateStore.append` (a :class:`~assetflow.store.recorder.Recorder` does
the batching for a run); reads open the file read-only, and a file that does not exist yet
reads as an empty history without being created.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import duckdb

from assetflow.planner.screen import ScreenSpec
from assetflow.records import (
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
from assetflow.store import checks as _checks
from assetflow.store import history, liveness, screening, verifications
from assetflow.store import leases as _leases
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
from assetflow.store.history import LogLine, RunSummary
from assetflow.store.prune import prune as _prune
from assetflow.store.screening import Screened
from assetflow.store.side_tables import SideTables
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

Node = tuple[str, str]
Snapshot = dict[Node, PartitionState]


class StateStore(SideTables):
    """The state file at ``path``: append-only history plus a per-partition status cache.

    ``migrations`` is the schema's migration list (injectable so tests can add a version);
    ``lock_timeout`` bounds how long a call waits for another process holding the file.
    Opening the file (:class:`~assetflow.store.session.StoreSession`) and the tables beside
    the history (:class:`~assetflow.store.side_tables.SideTables`) live in their own modules.
    """

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
        released: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        """Record a batch in one transaction, and fold its attempts into the status cache.

        Started runs are inserted first and ended runs updated last, so one batch may hold a
        whole run. A success updates its partition's last success and last attempt, a failure
        its last attempt and error; a skipped step changes no status. A success or a skip lets
        go of its partition's lease; ``released`` names ``(asset, partition, run_id)`` claims
        to let go of too (steps that failed for good).
        """
        if (
            not (materializations or lineage or logs or runs_started or runs_ended or heartbeats)
            and not checks
            and not released
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
            _leases.release(connection, released)
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

    # --- stored data (see assetflow.store.verifications) --------------------------------------

    def made_with_data(self, assets: Sequence[str], rows_if_few: bool = False) -> object:
        """The partitions of ``assets`` whose last success stored data (an Arrow table; with
        ``rows_if_few``, tuples when there are few: see :mod:`assetflow.store.verifications`)."""
        with self._reading() as connection:
            return verifications.made_with_data(connection, assets, rows_if_few)

    def verification_marks(self, assets: Sequence[str]) -> dict[Node, tuple[str, str]]:
        """What ``verify`` found changed or gone in the current successes of ``assets``."""
        with self._reading() as connection:
            return verifications.marks(connection, assets)

    def record_verifications(self, found: Sequence[verifications.Verification]) -> None:
        """Append what ``verify`` found."""
        with self._writing() as connection:
            verifications.insert(connection, found)

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

    def lineage_walk(
        self, asset: str, partition: str, directions: Sequence[str], depth: int
    ) -> history.LineageWalk | None:
        """The lineage around ``asset[partition]``'s latest success, read set-based on one
        connection (see :func:`assetflow.store.history.lineage_walk`)."""
        with self._reading() as connection:
            return history.lineage_walk(connection, asset, partition, directions, depth)

    def success_history(
        self, node: tuple[str, str], since: int | None = None
    ) -> list[MaterializationRecord]:
        """The successes of ``node`` in order, from materialization ``since`` on (for ``why``)."""
        with self._reading() as connection:
            return history.success_history(connection, node[0], node[1], since)

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


def _asset_filter(assets: Iterable[str] | None, keyword: str) -> tuple[str, list[object]]:
    if assets is None:
        return "", []
    return f"{keyword} asset IN (SELECT UNNEST(?::VARCHAR[]))", [sorted(set(assets))]
