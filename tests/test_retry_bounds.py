"""Retry policies that cannot be honoured are refused at load, and any accepted policy gives a
usable delay for every retry (issue 13, item 4: `retries.delay = inf` was accepted, then failed
the run with an OverflowError at the first failure)."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, run_cli, write_project
from hypothesis import given
from hypothesis import strategies as st

from assetflow import RetryPolicy
from assetflow.errors import DefinitionError

PIPELINE = """
from assetflow import asset

@asset(io="none")
def flaky():
    raise ValueError("always")
"""


@pytest.mark.parametrize(
    ("spec", "culprit"),
    [
        ("{ max_retries = 1, delay = inf }", "assets.flaky.retries.delay"),
        ("{ max_retries = 1, delay = nan }", "assets.flaky.retries.delay"),
        ("{ max_retries = 1, backoff = inf }", "assets.flaky.retries.backoff"),
    ],
)
def test_a_non_finite_retry_setting_is_refused_at_load(
    tmp_path: Path, spec: str, culprit: str
) -> None:
    root = write_project(
        tmp_path, PROJECT_HEADER + f"\n[assets.flaky]\nretries = {spec}\n", pipeline=PIPELINE
    )
    code, out, err = run_cli(["materialize", "flaky"], root)
    assert code == 2, out + err
    assert culprit in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("field", ["delay", "backoff", "jitter"])
@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_a_non_finite_retry_policy_is_refused_in_python(field: str, value: float) -> None:
    with pytest.raises(DefinitionError, match=field):
        RetryPolicy(max_retries=1, **{field: value})


@given(
    delay=st.floats(min_value=0, max_value=1e308),
    backoff=st.floats(min_value=1, max_value=1e308),
    retry=st.integers(min_value=1, max_value=10_000),
)
def test_every_accepted_policy_gives_a_delay_a_wait_can_take(
    delay: float, backoff: float, retry: int
) -> None:
    wait = RetryPolicy(max_retries=retry, delay=delay, backoff=backoff).delay_before(retry)
    assert 0 <= wait <= threading.TIMEOUT_MAX
    threading.Event().wait(min(wait, 0.0))  # the type a wait accepts: no OverflowError
