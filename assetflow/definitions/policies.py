"""Policies an asset declares: how its failed attempts are retried, and how fresh it must be."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta

from assetflow.errors import DefinitionError

__all__ = ["FreshnessPolicy", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed attempt is retried.

    The delay before retry ``n`` (1-based) is ``delay * backoff ** (n - 1)``, spread by
    ``± jitter`` (a fraction of that delay) so that many failing steps don't retry in lockstep.
    """

    max_retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise DefinitionError(f"RetryPolicy: max_retries must be >= 0, got {self.max_retries}")
        for name in ("delay", "backoff", "jitter"):
            value = getattr(self, name)
            if not math.isfinite(value):  # inf would only fail at the first retry
                raise DefinitionError(f"RetryPolicy: {name} must be a finite number, got {value}")
        if self.delay < 0:
            raise DefinitionError(f"RetryPolicy: delay must be >= 0, got {self.delay}")
        if self.backoff < 1:
            raise DefinitionError(f"RetryPolicy: backoff must be >= 1, got {self.backoff}")
        if not 0 <= self.jitter <= 1:
            raise DefinitionError(f"RetryPolicy: jitter must be within [0, 1], got {self.jitter}")

    def delay_before(self, retry: int) -> float:
        """Nominal seconds to wait before retry number ``retry`` (1-based), without jitter;
        at most ``threading.TIMEOUT_MAX`` (a longer wait is one no wait can take)."""
        try:
            delay = self.delay * self.backoff ** max(retry - 1, 0)
        except OverflowError:
            delay = math.inf
        return min(delay, threading.TIMEOUT_MAX) if self.delay > 0 else 0.0


@dataclass(frozen=True)
class FreshnessPolicy:
    """The asset (its latest due partition, if partitioned) must be materialized within
    ``max_lag``; otherwise it is ``overdue``."""

    max_lag: timedelta
