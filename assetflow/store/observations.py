"""Source observations (schema 7): append-only, and folded into the status cache like
materializations.

An observation says what one source partition looked like at one moment: a data version, or
none (``NULL``: not there yet). Only changes are recorded: an observation that finds what the
cache already holds adds nothing. Folded into ``partition_status``, a present observation is
the source partition's "last success" (so readers compare the version they read with it, and
screening flags them as for any upstream) and an absent one its last attempt, with status
``absent`` (so the source partition, and what reads it, is looked at: ``waiting``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from assetflow.store.codec import Columns, create_temp_table, utc
from assetflow.store.status import flag_changed_inputs, update_status

__all__ = ["ABSENT", "OBSERVATION_COLUMNS", "ObservationRow", "current", "insert", "latest"]

ABSENT = "absent"  # the last_attempt_status of a source partition last observed not there

OBSERVATION_COLUMNS: Columns = (
    ("id", "BIGINT"),
    ("source", "VARCHAR"),
    ("partition", "VARCHAR"),
    ("observed_at", "TIMESTAMPTZ"),
    ("data_version", "VARCHAR"),
    ("code_version", "VARCHAR"),
    ("inputs_version", "VARCHAR"),
    ("detail", "VARCHAR"),
)

CREATE_TABLE = """
CREATE TABLE observations (
    id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    partition VARCHAR NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    data_version VARCHAR,  -- NULL: the partition is not there (yet)
    code_version VARCHAR NOT NULL,
    inputs_version VARCHAR,
    detail VARCHAR  -- the file(s) observed, for people
)
"""

# Observations shaped like the attempts the status cache folds in (see store.status).
HISTORY_ATTEMPTS = f"""
SELECT id, source AS asset, partition,
       CASE WHEN data_version IS NULL THEN '{ABSENT}' ELSE 'success' END AS status,
       observed_at AS ended_at, code_version, data_version, NULL::VARCHAR AS error,
       true AS whole, inputs_version, false AS inputs_changed
FROM observations
"""


# Present observations shaped like materializations (codec.MATERIALIZATION_COLUMNS order), so
# that lineage walks through a source partition like through an asset's (run "observed").
AS_MATERIALIZATIONS = """
SELECT id, 'observed' AS run_id, source AS asset, partition, 0 AS attempt, 'success' AS status,
       observed_at AS started_at, observed_at AS ended_at, 0.0 AS duration_s, code_version,
       data_version, NULL::BIGINT AS row_count, NULL::JSON AS metadata, NULL AS error,
       NULL AS traceback, detail AS reason, inputs_version
FROM observations WHERE data_version IS NOT NULL
"""


@dataclass(frozen=True)
class ObservationRow:
    """One observation to record."""

    id: int
    source: str
    partition: str
    observed_at: datetime
    data_version: str | None
    code_version: str
    inputs_version: str | None
    detail: str | None = None

    def row(self) -> tuple[object, ...]:
        return (
            self.id,
            self.source,
            self.partition,
            utc(self.observed_at),
            self.data_version,
            self.code_version,
            self.inputs_version,
            self.detail,
        )


def current(
    connection: duckdb.DuckDBPyConnection, sources: Sequence[str]
) -> dict[tuple[str, str], str | None]:
    """The version each observed partition of ``sources`` has now (``None``: absent)."""
    if not sources:
        return {}
    rows = connection.execute(
        f"""
        SELECT asset, partition,
               CASE WHEN last_attempt_status = '{ABSENT}' THEN NULL
                    ELSE last_success_data_version END
        FROM partition_status WHERE asset IN (SELECT UNNEST(?::VARCHAR[]))
        """,
        [sorted(set(sources))],
    ).fetchall()
    return {(asset, partition): version for asset, partition, version in rows}


def insert(connection: duckdb.DuckDBPyConnection, rows: Sequence[ObservationRow]) -> None:
    """Append ``rows`` and fold them into the status cache, flagging what read the old
    versions (inside the caller's transaction)."""
    if not rows:
        return
    staged: Columns = (
        ("id", "BIGINT"),
        ("asset", "VARCHAR"),
        ("partition", "VARCHAR"),
        ("status", "VARCHAR"),
        ("ended_at", "TIMESTAMPTZ"),
        ("code_version", "VARCHAR"),
        ("data_version", "VARCHAR"),
        ("error", "VARCHAR"),
        ("inputs_version", "VARCHAR"),
        ("detail", "VARCHAR"),
    )
    create_temp_table(
        connection,
        "observed",
        staged,
        [
            (
                r.id,
                r.source,
                r.partition,
                "success" if r.data_version is not None else ABSENT,
                utc(r.observed_at),
                r.code_version,
                r.data_version,
                None,
                r.inputs_version,
                r.detail,
            )
            for r in rows
        ],
    )
    try:
        connection.execute(
            """
            INSERT INTO observations
            SELECT id, asset, partition, ended_at, data_version, code_version, inputs_version,
                   detail
            FROM observed
            """
        )
        update_status(connection, "observed")
        flag_changed_inputs(connection, "observed")
    finally:
        connection.execute("DROP TABLE observed")


def latest(
    connection: duckdb.DuckDBPyConnection, sources: Sequence[str]
) -> Mapping[tuple[str, str], tuple[datetime, str | None, str | None]]:
    """When each partition of ``sources`` was last observed changed, its version and detail."""
    if not sources:
        return {}
    rows = connection.execute(
        """
        SELECT source, partition, max(observed_at),
               arg_max_null(data_version, (observed_at, id)),
               arg_max_null(detail, (observed_at, id))
        FROM observations WHERE source IN (SELECT UNNEST(?::VARCHAR[]))
        GROUP BY source, partition
        """,
        [sorted(set(sources))],
    ).fetchall()
    return {(s, p): (utc(at), version, detail) for s, p, at, version, detail in rows}
