"""One plan step: attempts with retries and timeouts, inputs, output, lineage and logs.

Everything a step learns goes to the recorder as append-only records: one materialization per
attempt, the lineage of a success (each upstream materialization and data version it read), and
the log records the function emitted.
"""

from __future__ import annotations

import inspect
import logging
import random
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Context
from assetflow.definitions.sources import source_input
from assetflow.graph.asset_graph import AssetGraph
from assetflow.io import Warehouse, io_manager_for
from assetflow.io.sql import run_sql_asset
from assetflow.partitions.core import time_window_of
from assetflow.planner.keys import ExistingKeys
from assetflow.planner.plan import PlanStep
from assetflow.records import (
    CheckRecord,
    LineageRecord,
    LogRecord,
    MaterializationRecord,
    StepStatus,
    new_id,
    utcnow,
)
from assetflow.runner.checking import CheckFailed, audit, outcome_of
from assetflow.runner.dbt_steps import build_dbt_step
from assetflow.runner.events import RunListener
from assetflow.runner.output import capturing_output
from assetflow.runner.results import StepResult
from assetflow.runner.timeouts import call_with_timeout, sql_with_timeout
from assetflow.store.recorder import Recorder
from assetflow.text import describe, describe_exception

Node = tuple[str, str]


class LatestVersions:
    """The latest successful materialization of each partition: from history, then this run."""

    def __init__(self, initial: Mapping[Node, tuple[int, str | None]]) -> None:
        self._latest = dict(initial)
        self._lock = threading.Lock()

    def get(self, node: Node) -> tuple[int, str | None] | None:
        with self._lock:
            return self._latest.get(node)

    def set(self, node: Node, materialization_id: int, data_version: str | None) -> None:
        with self._lock:
            self._latest[node] = (materialization_id, data_version)


@dataclass
class StepEnvironment:
    """What every step of one run shares."""

    graph: AssetGraph
    run_id: str
    warehouse: Warehouse
    data_dir: Path
    recorder: Recorder
    latest: LatestVersions
    existing: ExistingKeys
    cancel: threading.Event = field(default_factory=threading.Event)
    root: Path = field(default_factory=Path.cwd)  # the project root (source paths are under it)
    events: RunListener = field(default_factory=RunListener)  # hears of check results


class _CaptureHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _wants_context(fn: Any) -> bool:
    return "context" in inspect.signature(fn).parameters


def run_step(env: StepEnvironment, step: PlanStep) -> StepResult:
    """Run every attempt of one step and record them; never raises for the asset's errors."""
    definition = env.graph[step.asset]
    policy = definition.retries
    attempt = 0
    started = utcnow()
    while True:
        attempt += 1
        outcome = _attempt(env, definition, step, attempt)
        if outcome.status is StepStatus.SUCCESS:
            break
        # A failed blocking check is about the data, not a transient error: not retried.
        retryable = isinstance(outcome.exception, policy.retry_on) and not isinstance(
            outcome.exception, CheckFailed
        )
        if attempt > policy.max_retries or not retryable or env.cancel.is_set():
            break
        delay = policy.delay_before(attempt)
        if policy.jitter:
            delay *= 1 + random.uniform(-policy.jitter, policy.jitter)
        if env.cancel.wait(min(max(delay, 0.0), threading.TIMEOUT_MAX)):
            break
    if outcome.status is StepStatus.FAILED:  # for good: a waiting run may try it now
        env.recorder.add(released=[(step.asset, step.partition, env.run_id)])
    return StepResult(
        asset=step.asset,
        partition=step.partition,
        status=outcome.status,
        attempts=attempt,
        duration_s=(utcnow() - started).total_seconds(),
        error=outcome.error,
        materialization_id=outcome.materialization_id,
        data_version=outcome.data_version,
    )


@dataclass
class _Outcome:
    status: StepStatus
    materialization_id: int
    data_version: str | None = None
    error: str | None = None
    exception: BaseException | None = None


def _attempt(env: StepEnvironment, definition: AssetDef, step: PlanStep, attempt: int) -> _Outcome:
    materialization_id = new_id()
    handler = _CaptureHandler()
    logger = logging.Logger(f"assetflow.asset.{definition.name}", logging.DEBUG)
    logger.addHandler(handler)
    started = utcnow()
    # The warehouse file only when the step reads or writes it: steps of other IO kinds take a
    # scratch connection, so that they never keep the file from another process.
    uses_warehouse = _uses_warehouse(env, definition)
    con: Any = None
    lineage = _lineage(env, definition, step.partition, materialization_id)
    borrowed: list[Any] = []

    def warehouse_for_context() -> Any:
        if uses_warehouse:
            return con
        borrowed.append(env.warehouse.cursor())
        return borrowed[0]

    context = Context(
        asset_name=definition.name,
        partition_key=step.partition,
        time_window=time_window_of(definition.partitions, step.partition),
        run_id=env.run_id,
        log=logger,
        _warehouse_factory=warehouse_for_context,
    )
    value: Any = None
    checked: list[CheckRecord] = []
    try:
        # Inside the try: a warehouse that stays locked fails this step, not the run.
        con = env.warehouse.cursor() if uses_warehouse else _SCRATCH.cursor()
        checks = [c for c in env.graph.checks if c.asset == definition.name]
        if definition.dbt is not None:  # dbt builds and tests it (assetflow.runner.dbt_steps)
            value, checked = build_dbt_step(
                env.warehouse,
                definition,
                step.partition,
                checks,
                log=logger,
                materialization_id=materialization_id,
                run_id=env.run_id,
            )
        else:
            with capturing_output(handler, logger.name):  # print() becomes log records
                value = _call(env, definition, step.partition, context, con, lineage)
            value, checked = audit(
                checks, definition, step.partition, value, con, materialization_id, env.run_id
            )
        for result in checked:
            if not result.passed:  # a warning: recorded with the data, shown by `logs`
                logger.warning("check %s failed: %s", result.check_name, outcome_of(result))
        stored = io_manager_for(definition, warehouse=env.warehouse, data_dir=env.data_dir).store(
            definition, step.partition, value, con
        )
        if definition.io in ("duckdb", "dbt") or definition.sql is not None:
            env.warehouse.check_still_there()  # no success for data written to a deleted file
    except BaseException as exc:  # the asset's own failure, recorded, never raised
        # KeyboardInterrupt and SystemExit included: steps run on worker threads, where no
        # signal ever lands, so these come from the asset's code (`sys.exit(0)`, a stray
        # `raise KeyboardInterrupt`) and fail this step only. A real Ctrl-C reaches the run
        # through its cancel event (see assetflow.runner.interrupts).
        error = describe_exception(exc)
        if isinstance(exc, CheckFailed):
            error, checked = str(exc), list(exc.records)
        record = MaterializationRecord(
            id=materialization_id,
            run_id=env.run_id,
            asset=definition.name,
            partition=step.partition,
            attempt=attempt,
            status=StepStatus.FAILED,
            started_at=started,
            ended_at=utcnow(),
            code_version=definition.code_version,
            metadata=dict(context.metadata),
            error=error,
            traceback=_format_traceback(exc),
        )
        env.recorder.add(
            materializations=[record], logs=_logs(handler, materialization_id), checks=checked
        )
        _announce_checks(env, checked)
        return _Outcome(StepStatus.FAILED, materialization_id, error=error, exception=exc)
    finally:
        if con is not None:
            _release(env, con, uses_warehouse)
        for cursor in borrowed:
            _release(env, cursor, True)
    data_version = stored.data_version or _unknown_version(
        env, definition, step, value, materialization_id
    )
    record = MaterializationRecord(
        id=materialization_id,
        run_id=env.run_id,
        asset=definition.name,
        partition=step.partition,
        attempt=attempt,
        status=StepStatus.SUCCESS,
        started_at=started,
        ended_at=utcnow(),
        code_version=definition.code_version,
        data_version=data_version,
        row_count=stored.row_count,
        metadata={**stored.metadata, **context.metadata},
        inputs_version=env.graph.inputs_version(definition.name),
    )
    env.recorder.add(
        materializations=[record],
        lineage=lineage,
        logs=_logs(handler, materialization_id),
        checks=checked,
    )
    _announce_checks(env, checked)
    env.latest.set((definition.name, step.partition), materialization_id, data_version)
    return _Outcome(StepStatus.SUCCESS, materialization_id, data_version=data_version)


def _announce_checks(env: StepEnvironment, checked: list[CheckRecord]) -> None:
    for result in checked:
        env.events.check_result(result)


def _release(env: StepEnvironment, con: Any, from_warehouse: bool) -> None:
    """Close a step's cursor; a timed-out function may still be running a query on it."""
    try:
        con.close()
    except Exception:
        try:
            con.interrupt()
            con.close()
        except Exception:  # still busy: the abandoned thread owns it now
            logging.getLogger("assetflow").debug("cursor left to a timed-out function")
    if from_warehouse:
        env.warehouse.release()


def _uses_warehouse(env: StepEnvironment, definition: AssetDef) -> bool:
    """Whether a step reads or writes warehouse tables (SQL assets read their inputs there)."""
    if definition.dbt is not None:
        return False  # a dbt step takes the warehouse alone (see assetflow.runner.dbt_steps)
    if definition.sql is not None or definition.io == "duckdb":
        return True
    return any(env.graph[dep.name].io in ("duckdb", "dbt") for dep in definition.deps if dep.passed)


# Parquet and "none" steps use DuckDB only as an engine: a process-wide in-memory database.
_SCRATCH = duckdb.connect(":memory:")


def _unknown_version(
    env: StepEnvironment, definition: AssetDef, step: PlanStep, value: Any, materialization_id: int
) -> str:
    """The data version when the IO manager cannot fingerprint the content.

    ``None`` returned to a storing IO manager changes nothing stored, so the partition keeps its
    previous data version (and downstream stays fresh); otherwise (io "none") the content is
    unknown and every materialization counts as new data.
    """
    if value is None and definition.io != "none":
        previous = env.latest.get((definition.name, step.partition))
        if previous is not None and previous[1] is not None:
            return previous[1]
    return f"m{materialization_id:x}"


def reads_now(
    env: StepEnvironment, asset: str, partition: str
) -> list[tuple[Node, tuple[int, str | None] | None]]:
    """Every existing upstream partition a partition reads, with its latest success in this
    run's view (None: never materialized): what its step would read if it started now."""
    mapped = env.graph.upstream_partitions(asset, partition, env.existing.now)
    return [
        ((dep, key), env.latest.get((dep, key)))
        for dep, keys in mapped.items()
        for key in env.existing.filter(dep, keys)
    ]


def _lineage(
    env: StepEnvironment, definition: AssetDef, partition: str, materialization_id: int
) -> list[LineageRecord]:
    """Every existing upstream partition this partition reads, with its current version."""
    return [
        LineageRecord(
            materialization_id=materialization_id,
            upstream_asset=dep,
            upstream_partition=key,
            upstream_materialization_id=latest[0] if latest else None,
            upstream_data_version=latest[1] if latest else None,
        )
        for (dep, key), latest in reads_now(env, definition.name, partition)
    ]


def _inputs(
    env: StepEnvironment, definition: AssetDef, lineage: list[LineageRecord], con: Any
) -> dict[str, Any]:
    """The value of each upstream: its materialized mapped partitions (None if there are none)."""
    read: dict[str, list[str]] = {dep.name: [] for dep in definition.deps}
    for link in lineage:
        if link.upstream_materialization_id is not None:
            read[link.upstream_asset].append(link.upstream_partition)
    values: dict[str, Any] = {}
    for dep in definition.deps:
        if not dep.passed and definition.sql is None:
            continue
        upstream = env.graph[dep.name]
        keys = read[dep.name]
        if upstream.is_source:
            values[dep.name] = source_input(upstream, keys, env.root, con, definition.sql)
            continue
        manager = io_manager_for(upstream, warehouse=env.warehouse, data_dir=env.data_dir)
        values[dep.name] = manager.load(upstream, keys, con) if keys else None
    return values


def _call(
    env: StepEnvironment,
    definition: AssetDef,
    partition: str,
    context: Context,
    con: Any,
    lineage: list[LineageRecord],
) -> Any:
    inputs = _inputs(env, definition, lineage, con)
    if definition.fn is None:
        assert definition.sql is not None
        if definition.timeout is None:
            return run_sql_asset(con, definition, partition, context.time_window, inputs)
        return sql_with_timeout(con, definition, partition, context, inputs)
    kwargs = dict(inputs)
    if _wants_context(definition.fn):
        kwargs["context"] = context
    if definition.timeout is None:
        return definition.fn(**kwargs)
    return call_with_timeout(definition, kwargs, definition.timeout.total_seconds(), con)


def _logs(handler: _CaptureHandler, materialization_id: int) -> list[LogRecord]:
    return [
        LogRecord(
            materialization_id=materialization_id,
            seq=seq,
            created_at=datetime.fromtimestamp(record.created).astimezone(),
            level=str(record.levelname),
            message=_message(record),
            logger=str(record.name),
        )
        for seq, record in enumerate(handler.records)
    ]


def _message(record: logging.LogRecord) -> str:
    """The record's message; when its format and arguments do not fit (``log.info("%d", "x")``),
    the format and the arguments as they are, so that nothing the asset said is lost."""
    try:
        return describe(record.getMessage())
    except Exception as exc:
        return f"{describe(record.msg)} {describe(record.args)} (not formatted: {exc})"


def _format_traceback(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception:  # a broken exception object: its type is all that can be said
        return describe_exception(exc)
