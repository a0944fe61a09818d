"""Alerts as a run listener: failure alerts when a run with failed steps finishes, freshness
and recovered alerts when the scheduler announces a violation or its end."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from assetflow.alerts.delivery import RetryPolicy
from assetflow.alerts.dispatch import SentAlert, send
from assetflow.alerts.events import freshness_event, recovered_event
from assetflow.alerts.notify import notify_run
from assetflow.runner.events import FreshnessEvent, RunListener

if TYPE_CHECKING:
    from assetflow.alerts.subject import AlertSubject
    from assetflow.runner.results import RunResult

__all__ = ["AlertsListener"]

_LOG = logging.getLogger("assetflow")


class AlertsListener(RunListener):
    """Sends the project's ``[[alerts]]``; ``sent`` keeps every delivery it made."""

    def __init__(self, project: AlertSubject, policy: RetryPolicy | None = None) -> None:
        self.project = project
        self.policy = policy
        self.sent: list[SentAlert] = []

    def run_finished(self, result: RunResult) -> None:
        # Bounded by the delivery policy; a sink that cannot be reached is recorded as a failed
        # delivery and never changes the run's outcome.
        self.sent.extend(notify_run(self.project, result, policy=self.policy))

    def freshness_violation(self, event: FreshnessEvent) -> None:
        name = self.project.name
        if event.recovered:
            alert = recovered_event(name, event.asset, event.partition, event.detail, event.at)
        else:
            alert = freshness_event(name, event.asset, event.partition, event.detail, event.at)
        try:
            self.sent.extend(
                send(self.project.config.alerts, self.project.store, alert, policy=self.policy)
            )
        except Exception as exc:  # never fails the scheduler's evaluation
            _LOG.warning("freshness alert for %s not sent: %s", event.asset, exc)
