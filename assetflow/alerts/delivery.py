"""Posting one JSON body to one sink: retried with exponential backoff, bounded in time.

A delivery retries on HTTP 429 (honouring a short ``Retry-After``), on 5xx and on connection
errors, at most :attr:`RetryPolicy.attempts` times and never past :attr:`RetryPolicy.deadline`
seconds; any other status is a final failure. It never raises: the outcome says what happened.
Error texts name the status or the socket error, never the URL (a Slack URL is a secret).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assetflow import __version__

__all__ = ["BACKOFF_ENV", "DeliveryOutcome", "RetryPolicy", "default_policy", "post_json"]

# Seconds of the first backoff (then doubled); tests and impatient setups lower it.
BACKOFF_ENV = "ASSETFLOW_ALERT_BACKOFF_S"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in all, waiting ``backoff * 2**n`` seconds between them
    (or ``Retry-After`` up to ``max_retry_after``), all within ``deadline`` seconds."""

    attempts: int = 4
    backoff: float = 0.5
    max_retry_after: float = 10.0
    deadline: float = 30.0


def default_policy() -> RetryPolicy:
    """The policy, with the first backoff from ``ASSETFLOW_ALERT_BACKOFF_S`` if set."""
    raw = os.environ.get(BACKOFF_ENV)
    try:
        backoff = float(raw) if raw else RetryPolicy.backoff
    except ValueError:
        backoff = RetryPolicy.backoff
    return RetryPolicy(backoff=max(0.0, backoff))


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery came to: ``delivered`` or not, after how many attempts."""

    delivered: bool
    attempts: int
    http_status: int | None = None
    error: str | None = None


def post_json(
    url: str,
    body: dict[str, Any],
    expected: int,
    timeout: float,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DeliveryOutcome:
    """POST ``body`` as JSON to ``url`` until it answers ``expected`` (any 2xx is accepted
    too), retrying what can be retried; never raises."""
    policy = policy or default_policy()
    data = json.dumps(body).encode("utf-8")
    started = clock()
    status: int | None = None
    error: str | None = None
    attempt = 0
    while attempt < policy.attempts:
        attempt += 1
        remaining = policy.deadline - (clock() - started)
        wait: float | None = None
        try:
            status = _post(url, data, max(0.1, min(timeout, remaining)))
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}".strip()
            if exc.code == 429:
                wait = _retry_after(exc.headers.get("Retry-After"), policy)
            elif exc.code < 500:
                return DeliveryOutcome(False, attempt, status, error)
        except ValueError:  # a malformed URL; its text may hold a secret, so not shown
            return DeliveryOutcome(False, attempt, None, "invalid URL")
        except (urllib.error.URLError, OSError) as exc:
            status, error = None, _socket_error(exc)
        else:
            if status == expected or 200 <= status < 300:
                return DeliveryOutcome(True, attempt, status)
            error = f"HTTP {status} (expected {expected})"
            return DeliveryOutcome(False, attempt, status, error)
        if attempt >= policy.attempts:
            break
        delay = policy.backoff * 2 ** (attempt - 1) if wait is None else wait
        if clock() - started + delay >= policy.deadline:
            error = f"{error}; gave up: deadline of {policy.deadline:g}s"
            break
        sleep(delay)
    return DeliveryOutcome(False, attempt, status, error)


def _post(url: str, data: bytes, timeout: float) -> int:
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"assetflow/{__version__}"},
    )
    with _OPENER.open(request, timeout=timeout) as response:
        response.read()
        return int(response.status)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect of a POST as a GET without the body: refuse instead, so a
    3xx is a final failure that says so."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _retry_after(value: str | None, policy: RetryPolicy) -> float | None:
    """``Retry-After`` in seconds, if given as a small number (an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return min(max(0.0, seconds), policy.max_retry_after)


def _socket_error(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, OSError) and reason.strerror:
        return f"connection failed: {reason.strerror}"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "connection failed: timed out"
    return f"connection failed: {type(reason).__name__}: {reason}"
