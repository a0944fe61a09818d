"""Delivery against a real HTTP server: retries on 429 and 5xx with backoff, ``Retry-After``,
no retry on other 4xx, a dead endpoint, and the bounds on attempts and time."""

from __future__ import annotations

import time

import pytest
from alert_http import AlertServer, dead_url

from assetflow.alerts.delivery import RetryPolicy, default_policy, post_json

BODY = {"text": "hello"}


class Sleeps:
    """Records the backoff delays instead of sleeping them; ``clock`` is their sum."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)

    def clock(self) -> float:
        return sum(self.delays)


def test_429_then_200_honours_retry_after(server: AlertServer) -> None:
    server.script("/s", (429, {"Retry-After": "3"}), 200)
    sleeps = Sleeps()
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, RetryPolicy(backoff=0.25), sleeps)
    assert (outcome.delivered, outcome.attempts, outcome.http_status) == (True, 2, 200)
    assert sleeps.delays == [3.0]
    assert server.bodies("/s") == [BODY, BODY]


def test_retry_after_is_capped_and_a_date_falls_back_to_backoff(server: AlertServer) -> None:
    server.script("/s", (429, {"Retry-After": "3600"}), (429, {"Retry-After": "Wed, 21"}), 200)
    sleeps = Sleeps()
    policy = RetryPolicy(backoff=0.25, max_retry_after=5.0, deadline=60.0)
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, policy, sleeps)
    assert outcome.delivered and outcome.attempts == 3
    assert sleeps.delays == [5.0, 0.5]


def test_503_twice_then_202_backs_off_exponentially(server: AlertServer) -> None:
    server.script("/pd", 503, 503, 202)
    sleeps = Sleeps()
    outcome = post_json(server.url("/pd"), BODY, 202, 2.0, RetryPolicy(backoff=0.25), sleeps)
    assert (outcome.delivered, outcome.attempts, outcome.http_status) == (True, 3, 202)
    assert sleeps.delays == [0.25, 0.5]


def test_always_500_gives_up_after_the_attempts(server: AlertServer) -> None:
    server.script("/s", 500)
    sleeps = Sleeps()
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, RetryPolicy(attempts=4), sleeps)
    assert (outcome.delivered, outcome.attempts, outcome.http_status) == (False, 4, 500)
    assert outcome.error == "HTTP 500 Internal Server Error"
    assert len(server.bodies("/s")) == 4 and sleeps.delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_4xx_is_final(server: AlertServer, status: int) -> None:
    server.script("/s", status)
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, RetryPolicy(), Sleeps())
    assert (outcome.delivered, outcome.attempts, outcome.http_status) == (False, 1, status)


def test_a_redirect_is_not_followed(server: AlertServer) -> None:
    server.script("/s", (302, {"Location": server.url("/elsewhere")}))
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, RetryPolicy(), Sleeps())
    assert (outcome.delivered, outcome.http_status) == (False, 302)
    assert server.bodies("/elsewhere") == []


def test_a_dead_endpoint_fails_after_retrying() -> None:
    sleeps = Sleeps()
    outcome = post_json(dead_url(), BODY, 200, 2.0, RetryPolicy(attempts=3), sleeps)
    assert (outcome.delivered, outcome.attempts, outcome.http_status) == (False, 3, None)
    assert outcome.error == "connection failed: Connection refused"
    assert sleeps.delays == [0.5, 1.0]


def test_the_deadline_bounds_the_total_time() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=10, backoff=4.0, deadline=10.0)
    outcome = post_json(dead_url(), BODY, 200, 2.0, policy, sleeps, sleeps.clock)
    assert not outcome.delivered and outcome.attempts == 2  # the third would start past 10 s
    assert sleeps.delays == [4.0]
    assert outcome.error is not None and "deadline" in outcome.error


def test_real_backoff_sleeps(server: AlertServer) -> None:
    server.script("/s", 503, 200)
    started = time.monotonic()
    outcome = post_json(server.url("/s"), BODY, 200, 2.0, RetryPolicy(backoff=0.2))
    assert outcome.delivered and time.monotonic() - started >= 0.2


def test_backoff_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETFLOW_ALERT_BACKOFF_S", "0.01")
    assert default_policy().backoff == 0.01
    monkeypatch.setenv("ASSETFLOW_ALERT_BACKOFF_S", "soon")
    assert default_policy() == RetryPolicy()
