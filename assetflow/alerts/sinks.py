"""The sinks: one pure function per kind turns an :class:`AlertEvent` into the exact JSON body
it posts, and :func:`resolve_sink` reads a sink's secrets from the environment at send time.

- ``slack``: an incoming webhook, ``{"text": "..."}``; Slack answers 200.
- ``pagerduty``: the Events API v2; ``trigger`` for failures, freshness violations and tests,
  ``resolve`` (same ``dedup_key``) for recoveries; PagerDuty answers 202.
- ``webhook``: :func:`webhook_body`, documented field by field in ``docs/alerts.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assetflow.alerts.events import AlertEvent, EventKind
from assetflow.config.alert_sections import AlertSection

__all__ = [
    "REDACTED",
    "ResolvedSink",
    "SinkError",
    "body_for",
    "pagerduty_body",
    "redacted",
    "resolve_sink",
    "sink_name",
    "slack_body",
    "webhook_body",
]

WEBHOOK_VERSION = 1
REDACTED = "<redacted>"
# PagerDuty rejects summaries longer than this.
PAGERDUTY_SUMMARY_MAX = 1024

_TITLES = {
    EventKind.FAILURE: "Run failed",
    EventKind.FRESHNESS: "Overdue",
    EventKind.RECOVERED: "Recovered",
    EventKind.TEST: "Test alert",
}


def slack_body(event: AlertEvent) -> dict[str, Any]:
    """``{"text": "[PROJECT] TITLE: SUMMARY"}``; TITLE is Run failed, Overdue, Recovered or
    Test alert."""
    text = f"[{event.project}] {_TITLES[event.kind]}: {event.summary}"
    return {"text": text}


def pagerduty_body(event: AlertEvent, routing_key: str) -> dict[str, Any]:
    """An Events API v2 event: ``resolve`` for a recovery, ``trigger`` otherwise."""
    if event.kind is EventKind.RECOVERED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": event.dedup_key}
    custom: dict[str, Any] = {"event": str(event.kind)}
    for key in ("asset", "partition", "run_id", "detail"):
        value = getattr(event, key)
        if value is not None:
            custom[key] = value
    payload: dict[str, Any] = {
        "summary": event.summary[:PAGERDUTY_SUMMARY_MAX],
        "source": f"assetflow/{event.project}",
        "severity": str(event.severity),
        "timestamp": event.at.isoformat(),
        "class": str(event.kind),
        "custom_details": custom,
    }
    if event.asset is not None:
        payload["component"] = event.asset
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": event.dedup_key,
        "payload": payload,
    }


def webhook_body(event: AlertEvent) -> dict[str, Any]:
    """The generic webhook's JSON (every field is always present; see docs/alerts.md)."""
    return {
        "version": WEBHOOK_VERSION,
        "event": str(event.kind),
        "project": event.project,
        "asset": event.asset,
        "partition": event.partition,
        "run_id": event.run_id,
        "severity": str(event.severity),
        "summary": event.summary,
        "detail": event.detail,
        "dedup_key": event.dedup_key,
        "at": event.at.isoformat(),
    }


class SinkError(Exception):
    """A sink cannot be used as configured (an environment variable is not set)."""


@dataclass(frozen=True)
class ResolvedSink:
    """A sink with its secrets read: where to post, and the routing key for PagerDuty."""

    name: str
    kind: str
    url: str
    timeout: float
    routing_key: str | None = None


def sink_name(section: AlertSection, index: int) -> str:
    """The sink's ``name``, or ``KIND#INDEX`` (1-based, in file order)."""
    return section.name or f"{section.kind}#{index + 1}"


def resolve_sink(
    section: AlertSection, index: int, environ: Mapping[str, str] | None = None
) -> ResolvedSink:
    """Read the sink's URL and routing key; SinkError names the variable that is not set
    (never its value)."""
    env = os.environ if environ is None else environ
    name = sink_name(section, index)
    url = section.url
    if section.url_env is not None:
        url = env.get(section.url_env) or None
        if url is None:
            raise SinkError(f"environment variable {section.url_env} (url_env) is not set")
        if not url.startswith(("http://", "https://")):
            raise SinkError(f"environment variable {section.url_env} is not an http(s) URL")
    if url is None:  # config validation guarantees one of url / url_env
        raise SinkError("no url configured")
    routing_key = None
    if section.kind == "pagerduty" and section.routing_key_env is not None:
        routing_key = env.get(section.routing_key_env) or None
        if routing_key is None:
            raise SinkError(
                f"environment variable {section.routing_key_env} (routing_key_env) is not set"
            )
    return ResolvedSink(name, section.kind, str(url), section.timeout, routing_key)


def body_for(sink: ResolvedSink, event: AlertEvent) -> dict[str, Any]:
    """The JSON body ``sink`` posts for ``event``."""
    if sink.kind == "slack":
        return slack_body(event)
    if sink.kind == "pagerduty":
        return pagerduty_body(event, sink.routing_key or "")
    return webhook_body(event)


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as recorded in the state store: without the PagerDuty routing key."""
    if "routing_key" in body:
        return {**body, "routing_key": REDACTED}
    return body
