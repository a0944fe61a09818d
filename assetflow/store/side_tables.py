"""The tables beside the history: leases, backfills, schedule ticks, alert deliveries and
incidents, check results. Thin methods over the modules that hold their SQL."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import duckdb

from assetflow.errors import StateError
from assetflow.records import (
    BackfillRecord,
    CheckRecord,
    RunRecord,
    RunStatus,
    this_host,
    utcnow,
)
from assetflow.store import alerts as _alerts
from assetflow.store import backfills as _backfills
from assetflow.store import checks as _checks
from assetflow.store import history, liveness
from assetflow.store import leases as _leases
from assetflow.store import observations as _observations
from assetflow.store import ticks as _ticks
from assetflow.store.codec import utc
from assetflow.store.session import StoreSession

__all__ = ["SideTables"]

Node = tuple[str, str]


class SideTables(StoreSession):
    """Leases, backfills, schedule ticks, alerts and check results of one state file."""

    # --- source observations (see assetflow.store.observations) ------------------------------

    def record_observations(
        self, found: Sequence[_observations.ObservationRow]
    ) -> list[_observations.ObservationRow]:
        """Append those of ``found`` that change what history knows (a new version, a
        partition that came or went, or one never observed); returns them.

        Read first, written only when something changed: observing is part of every
        ``status``, which must not queue behind runs for the file when nothing is new.
        """
        sources = sorted({row.source for row in found})

        def changes(known: Mapping[Node, str | None]) -> list[_observations.ObservationRow]:
            return [
                row
                for row in found
                if (row.source, row.partition) not in known
                or known[(row.source, row.partition)] != row.data_version
            ]

        with self._reading() as connection:
            changed = changes(_observations.current(connection, sources))
        if not changed or self.in_reading_session:
            # Inside a reading session (a screen's one read) nothing can be written: the
            # change is recorded by the next observation outside one (screens observe first).
            return []
        with self._writing() as connection:
            changed = changes(_observations.current(connection, sources))
            _observations.insert(connection, changed)
        return changed

    def observed_versions(self, sources: Sequence[str]) -> dict[Node, str | None]:
        """The version each observed partition of ``sources`` has (``None``: absent)."""
        with self._reading() as connection:
            return _observations.current(connection, sources)

    def last_observations(
        self, sources: Sequence[str]
    ) -> Mapping[Node, tuple[datetime, str | None, str | None]]:
        """When each partition of ``sources`` was last seen change, its version and files."""
        with self._reading() as connection:
            try:
                return _observations.latest(connection, sources)
            except duckdb.CatalogException:  # a file from before schema 7, read-only
                return {}

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

    def made_since_read(
        self, seen: Mapping[Node, int | None], run_id: str
    ) -> dict[Node, tuple[str, int, str | None]]:
        """Of the partitions in ``seen`` (the last success id a plan read, or None), those whose
        committed last success is another, by another run than ``run_id``:
        ``(run_id, materialization_id, data_version)`` (see :func:`leases.made_since_read`)."""
        with self._reading() as connection:
            return _leases.made_since_read(connection, seen, run_id)

    def latest_checks(self, assets: Iterable[str] | None = None) -> list[CheckRecord]:
        """Each (asset, check)'s most recent result, by asset and check name."""
        with self._reading() as connection:
            return _checks.latest_checks(connection, assets)

    def failing_checks(self, assets: Iterable[str] | None = None) -> list[CheckRecord]:
        """Failed checks on the data partitions hold now (their last success's results)."""
        with self._reading() as connection:
            return _checks.failing_checks(connection, assets)

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
