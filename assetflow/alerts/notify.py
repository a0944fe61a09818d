"""Alerts about runs: ``failure`` after a run with failed steps, and the ``test`` event."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from assetflow.alerts.delivery import RetryPolicy
from assetflow.alerts.dispatch import SentAlert, send, sinks_for
from assetflow.alerts.events import EventKind, failure_events, test_event
from assetflow.records import RunStatus, utcnow

if TYPE_CHECKING:
    from assetflow.alerts.subject import AlertSubject
    from assetflow.runner.results import RunResult

__all__ = ["notify_run", "send_test"]

logger = logging.getLogger("assetflow.alerts")


def notify_run(
    project: AlertSubject, result: RunResult, *, policy: RetryPolicy | None = None
) -> list[SentAlert]:
    """Send ``failure`` alerts for a run with failed steps (one per failed asset) to the
    sinks listening for failures; nothing for any other run. Never raises."""

    try:
        if not result.failed or result.status is RunStatus.CANCELLED:
            return []
        alerts = project.config.alerts
        if not sinks_for(alerts, EventKind.FAILURE):
            return []
        store = project.store
        sent: list[SentAlert] = []
        for event in failure_events(project.name, result, utcnow()):
            sent.extend(send(alerts, store, event, policy=policy))
        return sent
    except Exception as exc:  # an alert must never turn a finished run into a crash
        logger.warning("failure alerts for run %s not sent: %s", result.run_id, exc)
        return []


def send_test(project: AlertSubject, *, policy: RetryPolicy | None = None) -> list[SentAlert]:
    """Send a ``test`` event to every configured sink (whatever its ``on`` list says)."""

    event = test_event(project.name, utcnow())
    return send(project.config.alerts, project.store, event, policy=policy)
