"""Alerts: tell Slack, PagerDuty or a webhook about failed runs, freshness violations and
recoveries.

- :func:`notify_run` after a run (``operations.execute`` calls it for runs with failed steps);
- :func:`check_freshness` from the scheduler: one alert per new violation, one ``recovered``
  per violation that cleared;
- :func:`send_test` behind ``assetflow alerts test``.

Every delivery is retried with backoff and recorded in the state store's ``alert_deliveries``;
none of these raises because a sink could not be reached. See ``docs/alerts.md``.
"""

from assetflow.alerts.delivery import DeliveryOutcome, RetryPolicy
from assetflow.alerts.dispatch import SentAlert, send
from assetflow.alerts.events import AlertEvent, EventKind, Severity
from assetflow.alerts.freshness import (
    FreshnessCheck,
    Violation,
    check_freshness,
    freshness_violations,
    run_freshness_check,
)
from assetflow.alerts.notify import notify_run, send_test
from assetflow.alerts.sinks import pagerduty_body, slack_body, webhook_body

__all__ = [
    "AlertEvent",
    "DeliveryOutcome",
    "EventKind",
    "FreshnessCheck",
    "RetryPolicy",
    "SentAlert",
    "Severity",
    "Violation",
    "check_freshness",
    "freshness_violations",
    "notify_run",
    "pagerduty_body",
    "run_freshness_check",
    "send",
    "send_test",
    "slack_body",
    "webhook_body",
]
