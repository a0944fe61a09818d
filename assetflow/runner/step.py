"""One plan step: attempts with retries and timeouts, inputs, output, lineage and logs.

Everything a step learns goes to the recorder as append-only records: one materialization per
attempt, the lineage of a success (each upstream materialization and data version it read), and
the log records the function emitted.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.config.remote_data import RemoteData
from assetflow.definitions.assets import AssetDef
from assetflow.graph.asset_graph import AssetGraph
from assetflow.io import Warehouse
from assetflow.planner.keys import ExistingKeys
from assetflow.planner.plan import PlanStep
from assetflow.records import (
    CheckRecord,
    LineageRecord,
    MaterializationRecord,
    StepStatus,
    new_id,
    utcnow,
)
from assetflow.runner.attempt import (
    AttemptOutcome,
    AttemptSpec,
    Place,
    perform,
    runs_in_coordinator,
)
from assetflow.runner.attempts import attempt_event
from assetflow.runner.events import RunListener
from assetflow.runner.results import StepResult
from assetflow.store.recorder import Recorder

if TYPE_CHECKING:
    from assetflow.runner.executors import StepExecutor

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
    data_dir: Path | RemoteData  # the parquet root: a local folder or an fsspec URL
    recorder: Recorder
    latest: LatestVersions
    existing: ExistingKeys
    cancel: threading.Event = field(default_factory=threading.Event)
    root: Path = field(default_factory=Path.cwd)  # the project root (source paths are under it)
    events: RunListener = field(default_factory=RunListener)  # hears of check results
    # Where steps that need not run here go (a process pool, a Dask cluster); None: here.
    executor: StepExecutor | None = None

    def place(self) -> Place:
        """This process as a place to run attempts: the only one holding the warehouse."""
        return Place(self.graph, self.data_dir, self.root, self.warehouse)


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
        if attempt > policy.max_retries or not outcome.retryable or env.cancel.is_set():
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
    retryable: bool = False


def _attempt(env: StepEnvironment, definition: AssetDef, step: PlanStep, attempt: int) -> _Outcome:
    """Prepare one attempt here, have it performed where it runs, record what came back."""
    materialization_id = new_id()
    lineage = _lineage(env, definition, step.partition, materialization_id)
    reads: dict[str, list[str]] = {}
    for link in lineage:
        if link.upstream_materialization_id is not None:
            reads.setdefault(link.upstream_asset, []).append(link.upstream_partition)
    spec = AttemptSpec(
        run_id=env.run_id,
        asset=definition.name,
        partition=step.partition,
        attempt=attempt,
        materialization_id=materialization_id,
        code_version=definition.code_version,
        reads=tuple((dep, tuple(keys)) for dep, keys in reads.items()),
    )
    attempt_of = (env.run_id, step, attempt, materialization_id, lineage)  # for its events
    env.events.attempt_started(attempt_event(*attempt_of, utcnow()))
    executor = env.executor
    if executor is None or runs_in_coordinator(env.graph, definition):
        outcome = perform(env.place(), spec)
    else:
        outcome = executor.run(spec, definition)
    result = _record(env, definition, spec, lineage, outcome)
    env.events.attempt_finished(
        attempt_event(
            *attempt_of,
            outcome.ended_at,
            status=result.status,
            error=result.error,
            row_count=outcome.row_count,
            schema=outcome.schema,
        )
    )
    return result


def _record(
    env: StepEnvironment,
    definition: AssetDef,
    spec: AttemptSpec,
    lineage: list[LineageRecord],
    outcome: AttemptOutcome,
) -> _Outcome:
    """Record an attempt's outcome: its materialization, and for a success its lineage."""
    checked = list(outcome.checks)
    metadata = dict(outcome.metadata)
    if outcome.where != "coordinator":  # which worker ran it (`runs show`, the UI)
        metadata.setdefault("worker", outcome.where)
    record = MaterializationRecord(
        id=spec.materialization_id,
        run_id=env.run_id,
        asset=definition.name,
        partition=spec.partition,
        attempt=spec.attempt,
        status=StepStatus.FAILED,
        started_at=outcome.started_at,
        ended_at=outcome.ended_at,
        code_version=definition.code_version,
        metadata=metadata,
        error=outcome.error,
        traceback=outcome.traceback,
        reason=outcome.reason,
    )
    if outcome.status is not StepStatus.SUCCESS:
        env.recorder.add(materializations=[record], logs=list(outcome.logs), checks=checked)
        _announce_checks(env, checked)
        return _Outcome(
            StepStatus.FAILED,
            spec.materialization_id,
            error=outcome.error,
            retryable=outcome.retryable,
        )
    data_version = outcome.data_version or _unknown_version(
        env, definition, spec.partition, outcome.value_was_none, spec.materialization_id
    )
    record = replace(
        record,
        status=StepStatus.SUCCESS,
        error=None,
        traceback=None,
        reason=None,
        data_version=data_version,
        row_count=outcome.row_count,
        inputs_version=env.graph.inputs_version(definition.name),
    )
    env.recorder.add(
        materializations=[record], lineage=lineage, logs=list(outcome.logs), checks=checked
    )
    _announce_checks(env, checked)
    env.latest.set((definition.name, spec.partition), spec.materialization_id, data_version)
    return _Outcome(StepStatus.SUCCESS, spec.materialization_id, data_version=data_version)


def _announce_checks(env: StepEnvironment, checked: list[CheckRecord]) -> None:
    for result in checked:
        env.events.check_result(result)


def _unknown_version(
    env: StepEnvironment,
    definition: AssetDef,
    partition: str,
    value_was_none: bool,
    materialization_id: int,
) -> str:
    """The data version when the IO manager cannot fingerprint the content.

    ``None`` returned to a storing IO manager changes nothing stored, so the partition keeps its
    previous data version (and downstream stays fresh); otherwise (io "none") the content is
    unknown and every materialization counts as new data.
    """
    if value_was_none and definition.io != "none":
        previous = env.latest.get((definition.name, partition))
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
