"""The state file's tables, and the forward migrations that create and evolve them.

The schema version is the number of migrations applied, kept in ``meta``. Opening a file for
writing applies the missing migrations in one transaction; a file written by a newer assetflow
(more migrations than this code knows) is refused rather than misread.

Rows stay small: ids are BIGINT, timestamps TIMESTAMPTZ (UTC), statuses short strings, and the
only JSON is what the user attached (arguments, metadata, options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from assetflow.errors import StateError

__all__ = ["MIGRATIONS", "Migration", "ensure_schema", "schema_version"]

Migration = Callable[[duckdb.DuckDBPyConnection], None]

_V1_TABLES = """
CREATE TABLE meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    selection VARCHAR NOT NULL,
    arguments JSON,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ,
    host VARCHAR NOT NULL,
    pid INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    backfill_id VARCHAR,
    heartbeat_at TIMESTAMPTZ  -- for crash detection: a live run refreshes it
);
CREATE TABLE materializations (
    id BIGINT PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    asset VARCHAR NOT NULL,
    partition VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,  -- 0 for a skipped step
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL,
    duration_s DOUBLE NOT NULL,
    code_version VARCHAR NOT NULL,
    data_version VARCHAR,
    row_count BIGINT,
    metadata JSON,  -- NULL when empty
    error VARCHAR,
    traceback VARCHAR,
    reason VARCHAR
);
CREATE TABLE lineage (
    materialization_id BIGINT NOT NULL,
    upstream_asset VARCHAR NOT NULL,
    upstream_partition VARCHAR NOT NULL,
    upstream_materialization_id BIGINT,
    upstream_data_version VARCHAR
);
CREATE TABLE logs (
    materialization_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    level VARCHAR NOT NULL,
    logger VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);
CREATE TABLE backfills (
    backfill_id VARCHAR PRIMARY KEY,
    selection VARCHAR NOT NULL,
    range_from VARCHAR,
    range_to VARCHAR,
    options JSON,
    status VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    run_ids VARCHAR[] NOT NULL
);
-- The current-status cache: one row per (asset, partition) ever attempted, so that status
-- never scans history. Derived from materializations; rebuild_status() recomputes it.
CREATE TABLE partition_status (
    asset VARCHAR NOT NULL,
    partition VARCHAR NOT NULL,
    last_success_id BIGINT,
    last_success_code_version VARCHAR,
    last_success_data_version VARCHAR,
    last_success_at TIMESTAMPTZ,
    last_attempt_id BIGINT NOT NULL,
    last_attempt_status VARCHAR NOT NULL,  -- 'success' | 'failed'
    last_attempt_at TIMESTAMPTZ NOT NULL,
    last_error VARCHAR,  -- the last attempt's error when it failed
    PRIMARY KEY (asset, partition)
);
"""

# No secondary indexes, on purpose. DuckDB's ART indexes over random 64-bit ids are large:
# one on lineage(materialization_id) tripled a file with 2M lineage rows (42 -> 140 MB) and only
# halved a point lookup that a scan already does in under 4 ms. Rows arrive in time order, so
# zone maps prune by run_id (a timestamp prefix) and timestamps for free. Only the primary keys
# remain: materializations.id guards history against a batch recorded twice.


def _v1_create(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(_V1_TABLES)


def _v2_screening(connection: duckdb.DuckDBPyConnection) -> None:
    """What bulk status screening reads from the cache instead of scanning lineage.

    ``inputs_version`` is the shape of an asset's inputs when a partition was materialized;
    ``inputs_changed`` says that an upstream partition it read has a newer success with
    another data version (set when that success is recorded, cleared by the partition's own
    next success). Files from before have no inputs versions: their partitions are screened
    as "maybe stale" and evaluated one by one until they are materialized again.
    """
    connection.execute("ALTER TABLE materializations ADD COLUMN inputs_version VARCHAR")
    connection.execute(
        "ALTER TABLE partition_status ADD COLUMN last_success_inputs_version VARCHAR"
    )
    connection.execute(
        "ALTER TABLE partition_status ADD COLUMN inputs_changed BOOLEAN NOT NULL DEFAULT false"
    )
    from assetflow.store.status import recompute_changed_inputs

    recompute_changed_inputs(connection)


def _v3_leases(connection: duckdb.DuckDBPyConnection) -> None:
    """Partitions claimed by a run: one live run at a time materializes a partition.

    A run claims the partitions of its plan as it starts and lets each go when its step is
    recorded (all of them when it ends); claims of runs that are not running any more (ended,
    crashed) count for nothing and are cleared by the next claim.
    """
    connection.execute(
        """
        CREATE TABLE leases (
            asset VARCHAR NOT NULL,
            partition VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (asset, partition)
        )
        """
    )


def _v4_schedules_and_alerts(connection: duckdb.DuckDBPyConnection) -> None:
    """What the scheduler and the alert sinks record.

    ``schedule_ticks``: one row per schedule tick that a scheduler claimed; the primary key
    makes "a tick is never run twice" hold across schedulers (the second insert fails).
    ``alert_deliveries``: every attempt to tell a sink, append-only. ``alert_incidents``: the
    freshness violations, one row per violation (one alert when it opens, a ``recovered`` alert
    when it clears); rows are only ever added and resolved.
    """
    connection.execute(
        """
        CREATE TABLE schedule_ticks (
            schedule VARCHAR NOT NULL,  -- a [schedules.NAME] name, or 'asset:NAME'
            tick TIMESTAMPTZ NOT NULL,  -- the cron instant the row is for
            claimed_at TIMESTAMPTZ NOT NULL,
            claimed_by VARCHAR NOT NULL,  -- host:pid of the scheduler that claimed it
            coalesced INTEGER NOT NULL,  -- older missed ticks folded into this one
            run_id VARCHAR,  -- the run it started; NULL if there was nothing to do
            status VARCHAR NOT NULL,  -- 'claimed', 'started', 'nothing_to_do', 'failed'
            detail VARCHAR,
            PRIMARY KEY (schedule, tick)
        );
        CREATE TABLE alert_deliveries (
            id BIGINT PRIMARY KEY,
            event VARCHAR NOT NULL,  -- 'failure', 'freshness', 'recovered', 'test'
            sink VARCHAR NOT NULL,  -- the sink's name (or its kind)
            dedup_key VARCHAR,
            asset VARCHAR,
            partition VARCHAR,
            run_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL,
            status VARCHAR NOT NULL,  -- 'delivered' or 'failed'
            attempts INTEGER NOT NULL,
            http_status INTEGER,
            error VARCHAR,
            body JSON
        );
        CREATE TABLE alert_incidents (
            dedup_key VARCHAR NOT NULL,  -- at most one open (resolved_at NULL) per key
            event VARCHAR NOT NULL,  -- 'freshness'
            asset VARCHAR NOT NULL,
            partition VARCHAR,
            opened_at TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ,
            detail VARCHAR,
            PRIMARY KEY (dedup_key, opened_at)  -- a key violated again opens a new row
        );
        """
    )


def _v5_checks(connection: duckdb.DuckDBPyConnection) -> None:
    """Data quality check results, append-only: one row per check per checked partition."""
    connection.execute(
        """
        CREATE TABLE check_results (
            asset VARCHAR NOT NULL,
            partition VARCHAR NOT NULL,
            check_name VARCHAR NOT NULL,
            blocking BOOLEAN NOT NULL,
            passed BOOLEAN NOT NULL,
            checked_at TIMESTAMPTZ NOT NULL,
            materialization_id BIGINT,  -- the attempt (or stored success) whose data it read
            run_id VARCHAR,  -- NULL for `assetflow check` on stored data
            metadata JSON,
            error VARCHAR,  -- the check's own exception, if it raised
            description VARCHAR
        )
        """
    )


def _v6_verifications(connection: duckdb.DuckDBPyConnection) -> None:
    """What `assetflow verify` found, append-only: one row per stored partition it checked
    whose data was changed or gone (or, after that, fine again), for the success it checked."""
    connection.execute(
        """
        CREATE TABLE verifications (
            asset VARCHAR NOT NULL,
            partition VARCHAR NOT NULL,
            materialization_id BIGINT NOT NULL,  -- the success whose stored data was checked
            verified_at TIMESTAMPTZ NOT NULL,
            result VARCHAR NOT NULL,  -- 'changed', 'missing' or 'ok'
            data_version VARCHAR,  -- what the stored data fingerprints to now
            detail VARCHAR NOT NULL
        )
        """
    )


def _v7_observations(connection: duckdb.DuckDBPyConnection) -> None:
    """Source observations, append-only (see assetflow.store.observations)."""
    from assetflow.store.observations import CREATE_TABLE

    connection.execute(CREATE_TABLE)


# Append only: migration N (1-based) turns a version N-1 file into version N. Never edit one
# that has shipped; add the next.
MIGRATIONS: tuple[Migration, ...] = (
    _v1_create,
    _v2_screening,
    _v3_leases,
    _v4_schedules_and_alerts,
    _v5_checks,
    _v6_verifications,
    _v7_observations,
)


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(name) for (name,) in rows}


def schema_version(connection: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The schema version of an open state file; 0 for an empty database.

    Raises :class:`StateError` for a DuckDB file that holds other tables but no assetflow ones.
    """
    tables = _tables(connection)
    if "meta" not in tables:
        if tables:
            raise StateError(
                f"{path} is a DuckDB file but not an assetflow state file "
                f"(it has tables {', '.join(sorted(tables)[:5])} but no 'meta')"
            )
        return 0
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StateError(f"the state file {path} has no schema version in its 'meta' table")
    return int(row[0])


def check_not_newer(version: int, path: Path, migrations: Sequence[Migration]) -> None:
    """Refuse a file written by a newer assetflow than this one."""
    if version > len(migrations):
        raise StateError(
            f"the state file {path} was written by a newer assetflow "
            f"(schema {version} > {len(migrations)}); upgrade assetflow"
        )


def ensure_schema(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring a writable state file up to date; returns the version it is at now.

    The missing migrations and the version bump run in one transaction, so a failed migration
    leaves the file as it was.
    """
    version = schema_version(connection, path)
    check_not_newer(version, path, migrations)
    if version == len(migrations):
        return version
    connection.begin()
    try:
        for migration in migrations[version:]:
            migration(connection)
        connection.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(len(migrations))]
        )
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return len(migrations)
