"""Materialize in parts, for callers that plan and run themselves (the scheduler).

Mixed into :class:`~assetflow.application.project.Project`, so that the scheduler and the alert
checks reach history, plans and runs through the project object they are given and never
import the application layer (which sits above them: see docs/architecture.md).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from assetflow.application import operations

if TYPE_CHECKING:
    from assetflow.application.project import Project
    from assetflow.planner.plan import Plan
    from assetflow.planner.status import StatusEvaluator
    from assetflow.records import StateSnapshot
    from assetflow.runner.results import RunResult

Node = tuple[str, str]


class Stepwise:
    """Evaluate, plan and run as separate steps (mixed into ``Project``)."""

    def evaluator(
        self, now: datetime | None = None, include: Collection[Node] = ()
    ) -> StatusEvaluator:
        """A status evaluator over current history at ``now``, the sources observed first;
        ``include``: partitions whose state (and what they read) the snapshot must hold."""
        return operations.evaluator(_project(self).workspace, now, include)

    def plan_for(self, selection: Sequence[str], evaluator: StatusEvaluator) -> Plan:
        """The plan that makes ``selection``'s due partitions fresh, as ``materialize`` does."""
        scope = operations.Scope(tuple(selection))
        return operations.make_plan(_project(self).workspace, scope, evaluator_=evaluator)

    def with_estimates(self, plan: Plan) -> Plan:
        """``plan`` with each asset's median past duration (for its estimate)."""
        return operations.with_estimates(_project(self).workspace, plan)

    def check_executor(self) -> None:
        """Refuse an executor this release cannot run (RunError)."""
        operations.check_executor(_project(self).config.executor.kind)

    def run_plan(
        self,
        plan: Plan,
        selection: Sequence[str],
        *,
        kind: str,
        arguments: Mapping[str, Any] | None = None,
        snapshot: StateSnapshot | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run ``plan`` as a run of ``kind`` over ``selection``, recorded like any run."""
        return operations.execute(
            _project(self).workspace,
            plan,
            operations.Scope(tuple(selection)),
            kind=kind,
            extra_arguments=dict(arguments or {}),
            snapshot=snapshot,
            cancel=cancel,
        )


def _project(mixin: Stepwise) -> Project:
    return cast("Project", mixin)
