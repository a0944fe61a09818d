"""Leases: which live run is materializing which partition (see schema ``_v3_leases``).

A run claims its plan's partitions in one transaction as it starts; partitions another live run
holds are left to it, and the run waits for them (:class:`assetflow.runner.leases.LeaseKeeper`).
A lease whose run is no longer ``running`` in ``runs`` is void: runs that died are recorded
``crashed`` first (:meth:`StateStore.record_crashed`), which frees their leases.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import duckdb

Node = tuple[str, str]

_WANTED = "(SELECT UNNEST(?::VARCHAR[]) AS asset, UNNEST(?::VARCHAR[]) AS partition)"
_VOID = "DELETE FROM leases WHERE run_id NOT IN (SELECT run_id FROM runs WHERE status = 'running')"


def _columns(nodes: Collection[Node]) -> list[list[str]]:
    return [[asset for asset, _ in nodes], [partition for _, partition in nodes]]


def acquire(
    connection: duckdb.DuckDBPyConnection, run_id: str, nodes: Collection[Node], at: datetime
) -> dict[Node, str]:
    """Claim ``nodes`` for ``run_id``; returns those another running run holds (and by whom)."""
    connection.execute(_VOID)
    if not nodes:
        return {}
    held = {
        (asset, partition): holder
        for asset, partition, holder in connection.execute(
            f"SELECT l.asset, l.partition, l.run_id FROM leases l JOIN {_WANTED} w "
            "USING (asset, partition) WHERE l.run_id <> ?",
            [*_columns(nodes), run_id],
        ).fetchall()
    }
    free = [node for node in nodes if node not in held]
    if free:
        connection.execute(
            f"INSERT OR REPLACE INTO leases SELECT asset, partition, ?, ? FROM {_WANTED}",
            [run_id, at, *_columns(free)],
        )
    return held


def holders(connection: duckdb.DuckDBPyConnection, nodes: Collection[Node]) -> dict[Node, str]:
    """The running runs holding any of ``nodes``."""
    if not nodes:
        return {}
    rows = connection.execute(
        f"SELECT l.asset, l.partition, l.run_id FROM leases l JOIN {_WANTED} w "
        "USING (asset, partition) JOIN runs r ON r.run_id = l.run_id AND r.status = 'running'",
        _columns(nodes),
    ).fetchall()
    return {(asset, partition): holder for asset, partition, holder in rows}


def release_steps(connection: duckdb.DuckDBPyConnection, batch: str) -> None:
    """Let go of the partitions whose steps table ``batch`` (materializations) ends: a success
    or a skip. A failed attempt keeps its claim, as the step may retry; the run lets go of a
    step that failed for good explicitly (:func:`release`), or when it ends."""
    connection.execute(
        f"DELETE FROM leases WHERE (asset, partition, run_id) IN "
        f"(SELECT asset, partition, run_id FROM {batch} WHERE status IN ('success', 'skipped'))"
    )


def release(
    connection: duckdb.DuckDBPyConnection, claims: Collection[tuple[str, str, str]]
) -> None:
    """Let go of ``(asset, partition, run_id)`` claims (steps that failed for good)."""
    if claims:
        connection.execute(
            "DELETE FROM leases WHERE (asset, partition, run_id) IN (SELECT UNNEST(?::VARCHAR[]), "
            "UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]))",
            [list(column) for column in zip(*claims, strict=True)],
        )


def release_runs(connection: duckdb.DuckDBPyConnection, run_ids: Collection[str]) -> None:
    """Let go of everything the (ended) runs still hold."""
    if run_ids:
        connection.execute(
            "DELETE FROM leases WHERE run_id IN (SELECT UNNEST(?::VARCHAR[]))", [list(run_ids)]
        )


def made_since_read(
    connection: duckdb.DuckDBPyConnection, seen: Mapping[Node, int | None], run_id: str
) -> dict[Node, tuple[str, int, str | None]]:
    """Of the partitions in ``seen`` (each with the last success id a plan read, or None), those
    whose committed last success is another one, recorded by a run other than ``run_id``:
    ``(run_id, materialization_id, data_version)``.

    Identity, not time: a success is committed by its run's batching recorder some time after
    its step ended, so comparing end times with the moment a plan read history takes a success
    committed after that read for an older one, and makes the partition twice.
    """
    if not seen:
        return {}
    rows = connection.execute(
        "SELECT s.asset, s.partition, m.run_id, m.id, m.data_version FROM partition_status s "
        "JOIN (SELECT UNNEST(?::VARCHAR[]) AS asset, UNNEST(?::VARCHAR[]) AS partition, "
        "UNNEST(?::BIGINT[]) AS seen_id) w USING (asset, partition) "
        "JOIN materializations m ON m.id = s.last_success_id "
        "WHERE s.last_success_id IS DISTINCT FROM w.seen_id AND m.run_id <> ?",
        [*_columns(list(seen)), list(seen.values()), run_id],
    ).fetchall()
    return {(a, p): (str(r), int(m), v) for a, p, r, m, v in rows}
