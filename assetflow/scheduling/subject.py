"""What the scheduler needs from a loaded project, as a protocol (``Project`` satisfies it).

The scheduler sits below the application layer: it evaluates, plans and runs through these
few methods (``Project``'s stepwise half) instead of importing the operations or the facade.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from assetflow.alerts.subject import WatchedSubject

if TYPE_CHECKING:
    from assetflow.definitions.assets import AssetDef
    from assetflow.planner.plan import Plan
    from assetflow.planner.status import StatusEvaluator
    from assetflow.records import StateSnapshot
    from assetflow.runner.results import RunResult
    from assetflow.scheduling.schedules import ScheduleSpec


class ScheduledSubject(WatchedSubject, Protocol):
    """A project the scheduler runs: its schedules, and evaluate / plan / run as parts."""

    @property
    def assets(self) -> dict[str, AssetDef]: ...

    @property
    def listeners(self) -> list[object]: ...

    def schedules(self) -> list[ScheduleSpec]: ...

    def check_executor(self) -> None: ...

    def plan_for(self, selection: Sequence[str], evaluator: StatusEvaluator) -> Plan: ...

    def with_estimates(self, plan: Plan) -> Plan: ...

    def run_plan(
        self,
        plan: Plan,
        selection: Sequence[str],
        *,
        kind: str,
        arguments: Mapping[str, Any] | None = None,
        snapshot: StateSnapshot | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult: ...
