"""One attempt of one step, as plain data in and out.

The coordinating process decides everything about a run (order, pools, leases, retries) and
alone records it. What it hands to wherever a step runs is an :class:`AttemptSpec` (which
partition, which upstream partitions to read); what comes back is an :class:`AttemptOutcome`
(status, data version, logs, metadata, check results). Both are plain picklable data, so the
same :func:`perform` runs an attempt on a thread of the coordinator, in a worker process or
on a Dask worker (see :mod:`assetflow.runner.executors`).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from assetflow.config.remote_data import RemoteData
from assetflow.definitions.assets import AssetDef
from assetflow.definitions.checks import CheckDef
from assetflow.definitions.context import Context
from assetflow.definitions.sources import source_input
from assetflow.graph.asset_graph import AssetGraph
from assetflow.io import DuckDBIOManager, Warehouse, io_manager_for
from assetflow.io.sql import run_sql_asset
from assetflow.partitions.core import time_window_of
from assetflow.records import CheckRecord, LogRecord, StepStatus, utcnow
from assetflow.runner.checking import CheckFailed, audit, audit_staged, outcome_of
from assetflow.runner.output import capturing_output
from assetflow.runner.timeouts import StepTimeout, call_with_timeout, sql_with_timeout
from assetflow.text import describe, describe_exception

__all__ = ["AttemptOutcome", "AttemptSpec", "Place", "perform", "runs_in_coordinator"]


@dataclass(frozen=True)
class AttemptSpec:
    """What one attempt is: the partition, and the upstream partitions it reads."""

    run_id: str
    asset: str
    partition: str
    attempt: int
    materialization_id: int
    # The code version the coordinator planned with: a worker holding other code refuses.
    code_version: str
    # Per upstream asset, the partitions with a materialization to read (in key order).
    reads: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt did, for the coordinator to record."""

    status: StepStatus
    started_at: datetime
    ended_at: datetime
    error: str | None = None
    traceback: str | None = None
    # Whether the asset's retry policy retries this failure (decided where the exception is).
    retryable: bool = False
    timed_out: bool = False
    reason: str | None = None  # "worker lost" when the worker died under it
    data_version: str | None = None  # None: the IO manager could not fingerprint it
    value_was_none: bool = False
    row_count: int | None = None
    schema: tuple[tuple[str, str], ...] | None = None  # (column, type) of what was stored
    metadata: dict[str, Any] = field(default_factory=dict)
    logs: tuple[LogRecord, ...] = ()
    checks: tuple[CheckRecord, ...] = ()
    where: str = "coordinator"  # which process or worker ran it


@dataclass
class Place:
    """Where attempts run: the graph loaded there, the data folder, the project root, and the
    warehouse (only in the coordinating process, which alone holds that file)."""

    graph: AssetGraph
    data_dir: Path | RemoteData  # the parquet root: a local folder or an fsspec URL
    root: Path
    warehouse: Warehouse | None = None
    name: str = "coordinator"


# The IO kinds whose data is the DuckDB warehouse (dbt builds its relations there).
WAREHOUSE_IO = ("duckdb", "dbt")


def runs_in_coordinator(graph: AssetGraph, definition: AssetDef) -> bool:
    """Whether a step needs the warehouse (it stores there, is SQL or dbt, or is passed a
    warehouse asset): such a step runs in the coordinating process, which alone holds the
    warehouse file. The others may run on any executor."""
    if definition.dbt is not None or definition.sql is not None:
        return True
    if definition.io in WAREHOUSE_IO:
        return True
    return any(graph[dep.name].io in WAREHOUSE_IO for dep in definition.deps if dep.passed)


def _uses_warehouse_cursor(graph: AssetGraph, definition: AssetDef) -> bool:
    """Whether a step reads or writes warehouse tables through a cursor of the run's
    connection; a dbt step takes the warehouse alone instead (see runner.dbt_steps)."""
    return definition.dbt is None and runs_in_coordinator(graph, definition)


class _CaptureHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# Parquet and "none" steps use DuckDB only as an engine: a process-wide in-memory database.
_SCRATCH = duckdb.connect(":memory:")


def perform(place: Place, spec: AttemptSpec) -> AttemptOutcome:
    """Run one attempt here; never raises for the asset's errors (they are the outcome)."""
    started = utcnow()
    definition = place.graph.assets.get(spec.asset)
    if definition is None or definition.code_version != spec.code_version:
        error = (
            f"{place.name} holds other code for asset '{spec.asset}' than the run planned "
            "with: restart the workers so that they import the project again"
        )
        return AttemptOutcome(StepStatus.FAILED, started, utcnow(), error=error, where=place.name)
    handler = _CaptureHandler()
    logger = logging.Logger(f"assetflow.asset.{definition.name}", logging.DEBUG)
    logger.addHandler(handler)
    # The warehouse file only when the step reads or writes it: steps of other IO kinds take a
    # scratch connection, so that they never keep the file from another process.
    warehouse = place.warehouse
    uses_warehouse = warehouse is not None and _uses_warehouse_cursor(place.graph, definition)
    con: Any = None
    borrowed: list[Any] = []

    def warehouse_for_context() -> Any:
        if uses_warehouse:
            return con
        borrowed.append(warehouse.cursor() if warehouse is not None else _SCRATCH.cursor())
        return borrowed[0]

    context = Context(
        asset_name=definition.name,
        partition_key=spec.partition,
        time_window=time_window_of(definition.partitions, spec.partition),
        run_id=spec.run_id,
        log=logger,
        _warehouse_factory=warehouse_for_context,
    )
    value: Any = None
    checked: list[CheckRecord] = []
    try:
        # Inside the try: a warehouse that stays locked fails this step, not the run.
        con = warehouse.cursor() if uses_warehouse and warehouse else _SCRATCH.cursor()
        checks = [c for c in place.graph.checks if c.asset == definition.name]
        manager = io_manager_for(definition, warehouse=warehouse, data_dir=place.data_dir)
        if definition.dbt is not None:  # dbt builds and tests it (assetflow.runner.dbt_steps)
            value, checked = _build_dbt(place, definition, spec, checks, logger)
            _warn_failed(logger, checked)
            stored = manager.store(definition, spec.partition, value, con)
        else:
            with capturing_output(handler, logger.name):  # print() becomes log records
                value = _call(place, definition, spec, context, con)
            if isinstance(manager, DuckDBIOManager):
                # Read once into a TEMP table: checks, fingerprint and store all read it there.
                with manager.staged(definition, spec.partition, value, con) as rows:
                    if rows is not None:
                        checked = audit_staged(
                            checks,
                            definition,
                            spec.partition,
                            rows,
                            spec.materialization_id,
                            spec.run_id,
                        )
                    _warn_failed(logger, checked)
                    stored = manager.store_staged(definition, spec.partition, value, rows)
            else:
                value, checked = audit(
                    checks,
                    definition,
                    spec.partition,
                    value,
                    con,
                    spec.materialization_id,
                    spec.run_id,
                )
                _warn_failed(logger, checked)
                stored = manager.store(definition, spec.partition, value, con)
        if warehouse is not None and runs_in_coordinator(place.graph, definition):
            warehouse.check_still_there()  # no success for data written to a deleted file
    except BaseException as exc:  # the asset's own failure, recorded, never raised
        # KeyboardInterrupt and SystemExit included: steps run on worker threads, where no
        # signal ever lands, so these come from the asset's code (`sys.exit(0)`, a stray
        # `raise KeyboardInterrupt`) and fail this step only. A real Ctrl-C reaches the run
        # through its cancel event (see assetflow.runner.interrupts).
        error = describe_exception(exc)
        if isinstance(exc, CheckFailed):
            error, checked = str(exc), list(exc.records)
        # A failed blocking check is about the data, not a transient error: not retried.
        retryable = isinstance(exc, definition.retries.retry_on) and not isinstance(
            exc, CheckFailed
        )
        return AttemptOutcome(
            StepStatus.FAILED,
            started,
            utcnow(),
            error=error,
            traceback=_format_traceback(exc),
            retryable=retryable,
            timed_out=isinstance(exc, StepTimeout),
            metadata=dict(context.metadata),
            logs=tuple(_logs(handler, spec.materialization_id)),
            checks=tuple(checked),
            where=place.name,
        )
    finally:
        if con is not None:
            _release(warehouse, con, uses_warehouse)
        for cursor in borrowed:
            _release(warehouse, cursor, warehouse is not None)
    return AttemptOutcome(
        StepStatus.SUCCESS,
        started,
        utcnow(),
        data_version=stored.data_version,
        value_was_none=value is None,
        row_count=stored.row_count,
        schema=stored.schema,
        metadata={**stored.metadata, **context.metadata},
        logs=tuple(_logs(handler, spec.materialization_id)),
        checks=tuple(checked),
        where=place.name,
    )


def _warn_failed(logger: logging.Logger, checked: list[CheckRecord]) -> None:
    for result in checked:
        if not result.passed:  # a warning: recorded with the data, shown by `logs`
            logger.warning("check %s failed: %s", result.check_name, outcome_of(result))


def _build_dbt(
    place: Place,
    definition: AssetDef,
    spec: AttemptSpec,
    checks: list[CheckDef],
    logger: logging.Logger,
) -> tuple[Any, list[CheckRecord]]:
    from assetflow.runner.dbt_steps import build_dbt_step

    if place.warehouse is None:  # never: dbt steps run in the coordinator
        raise RuntimeError(f"dbt asset '{definition.name}' needs the warehouse")
    value, checked = build_dbt_step(
        place.warehouse,
        definition,
        spec.partition,
        checks,
        log=logger,
        materialization_id=spec.materialization_id,
        run_id=spec.run_id,
    )
    return value, list(checked)


def _release(warehouse: Warehouse | None, con: Any, from_warehouse: bool) -> None:
    """Close a step's cursor; a timed-out function may still be running a query on it."""
    try:
        con.close()
    except Exception:
        try:
            con.interrupt()
            con.close()
        except Exception:  # still busy: the abandoned thread owns it now
            logging.getLogger("assetflow").debug("cursor left to a timed-out function")
    if from_warehouse and warehouse is not None:
        warehouse.release()


def _inputs(place: Place, definition: AssetDef, spec: AttemptSpec, con: Any) -> dict[str, Any]:
    """The value of each upstream: its materialized mapped partitions (None if there are none)."""
    read = dict(spec.reads)
    values: dict[str, Any] = {}
    for dep in definition.deps:
        if not dep.passed and definition.sql is None:
            continue
        upstream = place.graph[dep.name]
        keys = list(read.get(dep.name, ()))
        if upstream.is_source:
            values[dep.name] = source_input(upstream, keys, place.root, con, definition.sql)
            continue
        manager = io_manager_for(upstream, warehouse=place.warehouse, data_dir=place.data_dir)
        values[dep.name] = manager.load(upstream, keys, con) if keys else None
    return values


def _call(place: Place, definition: AssetDef, spec: AttemptSpec, context: Context, con: Any) -> Any:
    inputs = _inputs(place, definition, spec, con)
    if definition.fn is None:
        assert definition.sql is not None
        if definition.timeout is None:
            catalog = place.warehouse.catalog if place.warehouse is not None else None
            return run_sql_asset(
                con, definition, spec.partition, context.time_window, inputs, catalog
            )
        return sql_with_timeout(con, definition, spec.partition, context, inputs)
    kwargs = dict(inputs)
    if "context" in inspect.signature(definition.fn).parameters:
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
