"""Where step attempts run: the executor seam.

The coordinating process keeps dependency order, pools, leases, fail-fast, cancellation,
retries with backoff and all recording (it alone writes the state file). An executor only
runs one attempt of one step somewhere and returns its outcome as plain data
(:class:`~assetflow.runner.attempt.AttemptOutcome`); every attempt is submitted on its own, so
every attempt is recorded.

- ``threads`` (no executor object): attempts run on the coordinator's own threads.
- ``processes``: a local pool of worker processes (:mod:`assetflow.runner.process_pool`).
- ``dask``: a Dask distributed cluster (:mod:`assetflow.runner.dask_executor`).

Steps whose data is the DuckDB warehouse run in the coordinating process whatever the
executor (:func:`~assetflow.runner.attempt.runs_in_coordinator`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from assetflow.records import StepStatus, utcnow
from assetflow.runner.attempt import AttemptOutcome, AttemptSpec

if TYPE_CHECKING:
    from assetflow.definitions.assets import AssetDef

__all__ = ["EXECUTORS", "StepExecutor", "WorkerLost", "lost", "timed_out"]

EXECUTORS = ("threads", "processes", "dask")

# Past an asset's timeout, how long the coordinator still waits for the worker to report the
# timeout itself before it stops the worker.
TIMEOUT_GRACE_S = 5.0


class WorkerLost(Exception):
    """The worker running an attempt died (killed, out of memory, its machine gone)."""


class StepExecutor(Protocol):
    """Runs attempts somewhere else than the coordinator's threads."""

    kind: str  # "processes" or "dask"
    # What the run records about where it ran (the Runs screen shows it).
    details: dict[str, str]

    def run(self, spec: AttemptSpec, definition: AssetDef) -> AttemptOutcome:
        """Run one attempt and wait for its outcome (called from several threads at once).
        Never raises for the attempt's failures: a lost worker or a timeout is an outcome."""
        ...

    def close(self) -> None:
        """Stop the workers this executor started (idempotent)."""
        ...


def lost(spec: AttemptSpec, definition: AssetDef, detail: str, where: str) -> AttemptOutcome:
    """A failed outcome for an attempt whose worker died; retried as the policy says."""
    now = utcnow()
    return AttemptOutcome(
        StepStatus.FAILED,
        now,
        now,
        error=f"worker lost: {detail}",
        reason="worker lost",
        retryable=issubclass(WorkerLost, definition.retries.retry_on),
        where=where,
    )


def timed_out(
    spec: AttemptSpec, definition: AssetDef, seconds: float, where: str
) -> AttemptOutcome:
    """A failed outcome for an attempt its worker did not finish within its timeout."""
    from assetflow.runner.timeouts import StepTimeout

    now = utcnow()
    return AttemptOutcome(
        StepStatus.FAILED,
        now,
        now,
        error=f"StepTimeout: timed out after {seconds:g}s (the worker was stopped)",
        retryable=issubclass(StepTimeout, definition.retries.retry_on),
        timed_out=True,
        where=where,
    )


def start_executor(
    kind: str, config_path: str, workers: int, address: str | None = None
) -> StepExecutor | None:
    """The executor of ``kind`` for one run, started (None for ``threads``).

    Raises :class:`~assetflow.errors.RunError` (exit 2) when it cannot start: a Dask scheduler
    that cannot be reached (naming the address), or a worker that cannot import the project
    (naming the worker and the module).
    """
    if kind == "threads":
        return None
    if kind == "processes":
        from assetflow.runner.process_pool import ProcessPool

        return ProcessPool(config_path, workers)
    if kind == "dask":
        from assetflow.runner.dask_executor import DaskExecutor

        return DaskExecutor(config_path, workers, address)
    from assetflow.errors import RunError

    raise RunError(f"unknown executor '{kind}' (expected one of: {', '.join(EXECUTORS)})")
