"""Sending one event to the sinks that listen for it, and recording every delivery.

Sinks are told in parallel (one thread each), so the slowest sink bounds the time taken; each
delivery is bounded by its :class:`~assetflow.alerts.delivery.RetryPolicy`. Nothing here
raises: a sink that cannot be reached, a missing environment variable, even a state file that
cannot be written, all end as a failed :class:`SentAlert` (and a warning in the log).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assetflow.alerts.delivery import DeliveryOutcome, RetryPolicy, post_json
from assetflow.alerts.events import AlertEvent, EventKind
from assetflow.alerts.sinks import SinkError, body_for, redacted, resolve_sink, sink_name
from assetflow.config.alert_sections import AlertSection
from assetflow.records import utcnow
from assetflow.store.alerts import DeliveryRecord
from assetflow.store.store import StateStore

__all__ = ["EXPECTED_STATUS", "SentAlert", "send", "sinks_for"]

logger = logging.getLogger("assetflow.alerts")

# What each service answers when it accepted the event (any other 2xx is accepted too).
EXPECTED_STATUS = {"slack": 200, "pagerduty": 202, "webhook": 200}


@dataclass(frozen=True)
class SentAlert:
    """One event told to one sink: whether it was delivered, and if not, why."""

    sink: str
    kind: str
    event: AlertEvent
    delivered: bool
    attempts: int
    http_status: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """``SINK (KIND): delivered`` or ``SINK (KIND): failed: WHY`` (never a secret)."""
        where = f"{self.sink} ({self.kind})" if self.sink != self.kind else self.sink
        if self.delivered:
            return f"{where}: delivered"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{where}: failed{tries}: {self.error}"


def sinks_for(alerts: list[AlertSection], kind: EventKind) -> list[tuple[int, AlertSection]]:
    """The sinks (with their index in the file) told about ``kind``; a test goes to all."""
    return [
        (index, section)
        for index, section in enumerate(alerts)
        if kind is EventKind.TEST or str(kind) in section.on
    ]


def send(
    alerts: list[AlertSection],
    store: StateStore | None,
    event: AlertEvent,
    *,
    policy: RetryPolicy | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[SentAlert]:
    """Tell every sink listening for ``event`` about it; record each delivery in ``store``."""
    targets = sinks_for(alerts, event.kind)
    if not targets:
        return []
    env = dict(os.environ if environ is None else environ)
    if len(targets) == 1:
        return [_send_one(index, section, store, event, policy, env) for index, section in targets]
    with ThreadPoolExecutor(len(targets), thread_name_prefix="assetflow-alert") as pool:
        futures = [
            pool.submit(_send_one, index, section, store, event, policy, env)
            for index, section in targets
        ]
        return [future.result() for future in futures]


def _send_one(
    index: int,
    section: AlertSection,
    store: StateStore | None,
    event: AlertEvent,
    policy: RetryPolicy | None,
    environ: Mapping[str, str],
) -> SentAlert:
    name = sink_name(section, index)
    started = utcnow()
    body = None
    try:
        sink = resolve_sink(section, index, environ)
        body = body_for(sink, event)
        outcome = post_json(sink.url, body, EXPECTED_STATUS[sink.kind], sink.timeout, policy)
    except SinkError as exc:
        outcome = DeliveryOutcome(False, 0, None, str(exc))
    except Exception as exc:  # a bug here must not fail the run that is being reported
        logger.warning("alert to %s failed unexpectedly: %s", name, exc, exc_info=True)
        outcome = DeliveryOutcome(False, 0, None, f"{type(exc).__name__}: {exc}")
    sent = SentAlert(
        name,
        section.kind,
        event,
        outcome.delivered,
        outcome.attempts,
        outcome.http_status,
        outcome.error,
    )
    if not sent.delivered:
        logger.warning("alert %s not delivered to %s", event.kind, sent.describe())
    if store is not None:
        _record(store, sent, started, None if body is None else redacted(body))
    return sent


def _record(
    store: StateStore, sent: SentAlert, started: datetime, body: dict[str, Any] | None
) -> None:
    event = sent.event
    record = DeliveryRecord(
        event=str(event.kind),
        sink=sent.sink,
        created_at=started,
        finished_at=utcnow(),
        status="delivered" if sent.delivered else "failed",
        attempts=sent.attempts,
        dedup_key=event.dedup_key,
        asset=event.asset,
        partition=event.partition,
        run_id=event.run_id,
        http_status=sent.http_status,
        error=sent.error,
        body=body,
    )
    try:
        store.record_delivery(record)
    except Exception as exc:  # the state file locked for long: the alert itself went out
        logger.warning("alert delivery to %s not recorded: %s", sent.sink, exc)
