"""A dbt asset's step: ``dbt build`` of its node and its tests, in this process, on the warehouse.

dbt writes through a DuckDB connection of its own to the warehouse file, so its step takes the
warehouse alone (:meth:`~assetflow.io.warehouse.Warehouse.alone`): steps using the warehouse
finish first, new ones wait, and dbt's connection joins the one this process holds. A
partitioned model receives its partition's window as dbt vars (``partition_key``,
``partition_start``, ``partition_end``).

The node's tests are its checks. dbt builds before it tests, so a failed ``error`` test cannot
keep the new data out, as assetflow's own blocking checks do: it fails the step (``check_failed:
NAME``), which keeps everything downstream from running on that data; a failed ``warn`` test is
recorded as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.checks import CheckDef
from assetflow.definitions.dbt_nodes import DbtNode
from assetflow.errors import RunError
from assetflow.integrations.dbt.project import DbtProject, DbtRunOutcome
from assetflow.io.dbt_io import DbtBuilt
from assetflow.io.fingerprint import fingerprint
from assetflow.io.warehouse import Warehouse
from assetflow.partitions.core import time_window_of
from assetflow.records import CheckRecord, utcnow
from assetflow.runner.checking import CheckFailed

__all__ = ["build_dbt_step", "partition_vars", "test_dbt_checks"]

_BUILT = {"success", "pass"}


def partition_vars(definition: AssetDef, partition: str) -> dict[str, str] | None:
    """The dbt vars of one partition: its key and window (dates, or times for hourly)."""
    window = time_window_of(definition.partitions, partition)
    if not definition.is_partitioned:
        return None
    variables = {"partition_key": partition}
    if window is not None:
        start, end = window
        hourly = definition.partitions.kind == "hourly"
        variables["partition_start"] = start.isoformat() if hourly else start.date().isoformat()
        variables["partition_end"] = end.isoformat() if hourly else end.date().isoformat()
    return variables


def _node_and_project(definition: AssetDef) -> tuple[DbtNode, DbtProject]:
    node = definition.dbt
    if node is None or node.project is None:
        raise RunError(f"asset '{definition.name}' is not a dbt node")
    return node, node.project


def build_dbt_step(
    warehouse: Warehouse,
    definition: AssetDef,
    partition: str,
    checks: Sequence[CheckDef],
    *,
    materialization_id: int,
    run_id: str,
    log: logging.Logger,
) -> tuple[DbtBuilt, list[CheckRecord]]:
    """Build one partition of a dbt asset and run its tests; returns what it built and the
    test results. Raises RunError when dbt fails, CheckFailed when an error test fails."""
    node, project = _node_and_project(definition)
    tests = [c for c in checks if c.dbt_test is not None]
    variables = partition_vars(definition, partition)
    with warehouse.alone() as connection:
        outcome = project.build([node.name, *(c.name for c in tests)], variables, log)
        result = outcome.results.get(node.unique_id)
        if result is None or result.status not in _BUILT:
            why = (result.message if result else None) or outcome.error or "not built"
            status = result.status if result else "not run"
            raise RunError(f"dbt {node.resource_type} {node.name}: {status}: {why}")
        cursor = connection.cursor()
        try:
            content = fingerprint(cursor.sql(f"SELECT * FROM {node.relation}"))
        finally:
            cursor.close()
    records = _check_records(definition, partition, tests, outcome, materialization_id, run_id)
    failed = [r for r in records if r.blocking and not r.passed]
    if failed:
        raise CheckFailed(failed, records)
    metadata = {"dbt": node.unique_id, "relation": node.relation, **(variables or {})}
    return DbtBuilt(content.data_version, content.row_count, metadata), records


def test_dbt_checks(
    warehouse: Warehouse,
    definition: AssetDef,
    partition: str,
    checks: Sequence[CheckDef],
    materialization_id: int | None,
) -> list[CheckRecord]:
    """Run a dbt asset's tests on what its relation holds now (``assetflow check``)."""
    _, project = _node_and_project(definition)
    tests = [c for c in checks if c.dbt_test is not None]
    if not tests:
        return []
    with warehouse.alone():
        outcome = project.build([c.name for c in tests], partition_vars(definition, partition))
    return _check_records(definition, partition, tests, outcome, materialization_id, None)


def _check_records(
    definition: AssetDef,
    partition: str,
    tests: Sequence[CheckDef],
    outcome: DbtRunOutcome,
    materialization_id: int | None,
    run_id: str | None,
) -> list[CheckRecord]:
    records = []
    for check_def in tests:
        assert check_def.dbt_test is not None
        result = outcome.results.get(check_def.dbt_test)
        status = result.status if result is not None else "not run"
        metadata: Mapping[str, object] = {"dbt_status": status}
        if result is not None and result.failures is not None:
            metadata = {**metadata, "failures": result.failures}
        error = None
        if status in ("error", "not run", "skipped"):
            error = (result.message if result else None) or outcome.error or f"dbt test {status}"
        records.append(
            CheckRecord(
                asset=definition.name,
                partition=partition,
                check_name=check_def.name,
                # dbt reports "warn" for an error test under its error threshold: not blocking.
                blocking=check_def.blocking and status != "warn",
                passed=status == "pass",
                checked_at=utcnow(),
                materialization_id=materialization_id,
                run_id=run_id,
                metadata=dict(metadata),
                error=error,
                description=check_def.description,
            )
        )
    return records
