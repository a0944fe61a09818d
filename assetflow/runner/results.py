"""What a run reports: step results, the run result, and the observer interface for progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from assetflow.planner.plan import Plan, PlanStep
from assetflow.records import RunStatus, StepStatus


@dataclass(frozen=True)
class StepResult:
    """The final outcome of one plan step."""

    asset: str
    partition: str
    status: StepStatus
    attempts: int = 0
    duration_s: float = 0.0
    error: str | None = None
    reason: str | None = None
    materialization_id: int | None = None
    data_version: str | None = None

    @property
    def name(self) -> str:
        return self.asset if self.partition == "-" else f"{self.asset}[{self.partition}]"

    def to_json(self) -> dict[str, Any]:
        """The ``materialize --json`` step record (field names are a stable contract)."""
        return {
            "asset": self.asset,
            "partition": self.partition,
            "status": self.status.value,
            "attempts": self.attempts,
            "duration_s": round(self.duration_s, 4),
            "error": self.error,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunResult:
    """A finished (or cancelled) run: its id, status and every step in execution order.

    ``run_id`` is ``None`` when there was nothing to do and so no run (``materialize``).
    """

    run_id: str | None
    status: RunStatus
    steps: tuple[StepResult, ...] = ()
    backfill_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # Partitions the run would have made but could not yet: a source partition they read
    # is not there (``waiting``); not steps, so they never make a run fail.
    waiting: tuple[str, ...] = ()

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status is StepStatus.FAILED]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status.value,
            "counts": self.counts,
            "steps": [step.to_json() for step in self.steps],
            "waiting": list(self.waiting),
        }
        if self.backfill_id is not None:
            document["backfill_id"] = self.backfill_id
        return document


class RunObserver(Protocol):
    """Receives run progress (the CLI renders it; the core never prints)."""

    def run_started(self, run_id: str, plan: Plan) -> None: ...

    def step_started(self, step: PlanStep) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...

    # Optional: ``run_cancelling(self, running: int)`` is called, if defined, when Ctrl-C
    # stops a run that still waits for ``running`` steps.


class NullObserver:
    """An observer that ignores everything."""

    def run_started(self, run_id: str, plan: Plan) -> None:
        pass

    def step_started(self, step: PlanStep) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass
