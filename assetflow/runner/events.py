"""Run events and the listeners that react to them.

The runner and the scheduler *announce* what happens; everything that reacts (the CLI's progress
display, failure and freshness alerts, a user's own notifier, a lineage export) is a
:class:`RunListener` given to them, never code inside them. A listener overrides the methods it
cares about; the others do nothing.

Listeners are called from the run's coordinating thread (``run_started``, ``run_finished``,
``step_started``, ``step_finished``) and from step threads (``check_result``,
``attempt_started``, ``attempt_finished``), so a listener
that keeps state guards it. A listener that raises is logged and ignored: a reaction never
changes the outcome of a run (:class:`Listeners` does the guarding).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.records import StepStatus

if TYPE_CHECKING:
    from assetflow.planner.plan import Plan, PlanStep
    from assetflow.records import CheckRecord
    from assetflow.runner.results import RunResult, StepResult

__all__ = ["AttemptEvent", "FreshnessEvent", "Listeners", "RunListener"]

_LOG = logging.getLogger("assetflow")


@dataclass(frozen=True)
class FreshnessEvent:
    """A freshness policy violated (``recovered`` false) or satisfied again (true), once per
    violation: ``partition`` is ``None`` for an unpartitioned asset."""

    asset: str
    partition: str | None
    detail: str
    at: datetime
    recovered: bool = False


@dataclass(frozen=True)
class AttemptEvent:
    """One attempt of a step, as it starts (``status`` is ``None``) and as it ends.

    ``attempt_id`` is the attempt's materialization id (unique, the same in both events);
    ``reads`` names every upstream asset the attempt reads with the partitions it reads of it;
    ``row_count`` and ``schema`` (``(column, type)`` pairs) describe what a successful attempt
    stored, when its IO manager knows them.
    """

    run_id: str
    asset: str
    partition: str
    attempt: int
    attempt_id: int
    at: datetime
    reads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    status: StepStatus | None = None
    error: str | None = None
    row_count: int | None = None
    schema: tuple[tuple[str, str], ...] | None = None

    @property
    def name(self) -> str:
        return self.asset if self.partition == "-" else f"{self.asset}[{self.partition}]"


class RunListener:
    """Reacts to run events; subclass it and override what you need.

    Register one in ``assets.toml`` (``[project] listeners = ["pipeline.hooks:FailedSteps"]``,
    a class built with no arguments) or in Python (``project.add_listener(obj)``); pass one to a
    single run with ``Project.materialize(observer=obj)``.
    """

    def run_started(self, run_id: str, plan: Plan) -> None:
        """A run starts executing ``plan``."""

    def step_started(self, step: PlanStep) -> None:
        """A step's first attempt starts."""

    def step_finished(self, result: StepResult) -> None:
        """A step ended: ``success``, ``failed`` (after its retries) or ``skipped``."""

    def attempt_started(self, event: AttemptEvent) -> None:
        """One attempt of a step starts (called from the step's thread)."""

    def attempt_finished(self, event: AttemptEvent) -> None:
        """One attempt of a step ended: ``event.status`` is ``success`` or ``failed`` (a
        failed attempt may be followed by a retry; called from the step's thread)."""

    def check_result(self, record: CheckRecord) -> None:
        """A data quality check ran on a partition a step just produced."""

    def run_finished(self, result: RunResult) -> None:
        """A run ended (also cancelled: ``result.status``)."""

    def freshness_violation(self, event: FreshnessEvent) -> None:
        """The scheduler found a freshness policy violated (``event.recovered`` false) or
        satisfied again (true); each violation is announced once, also with two schedulers."""


class Listeners(RunListener):
    """Several listeners as one: each is called in turn, and one that raises is logged and
    skipped, so that no reaction can fail a run or keep the others from hearing of it."""

    def __init__(self, listeners: Iterable[object | None] = ()) -> None:
        self.listeners = [listener for listener in listeners if listener is not None]

    def _tell(self, method: str, *args: object) -> None:
        for listener in self.listeners:
            call = getattr(listener, method, None)
            if call is None:  # an observer written before this method existed
                continue
            try:
                call(*args)
            except Exception as exc:
                _LOG.warning("listener %s failed on %s: %s", type(listener).__name__, method, exc)

    def run_started(self, run_id: str, plan: Plan) -> None:
        self._tell("run_started", run_id, plan)

    def step_started(self, step: PlanStep) -> None:
        self._tell("step_started", step)

    def step_finished(self, result: StepResult) -> None:
        self._tell("step_finished", result)

    def attempt_started(self, event: AttemptEvent) -> None:
        self._tell("attempt_started", event)

    def attempt_finished(self, event: AttemptEvent) -> None:
        self._tell("attempt_finished", event)

    def check_result(self, record: CheckRecord) -> None:
        self._tell("check_result", record)

    def run_finished(self, result: RunResult) -> None:
        self._tell("run_finished", result)

    def freshness_violation(self, event: FreshnessEvent) -> None:
        self._tell("freshness_violation", event)

    def run_cancelling(self, running: int) -> None:
        self._tell("run_cancelling", running)
