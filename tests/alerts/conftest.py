"""Fixtures of the alert tests: a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alert_http import AlertServer, serve


@pytest.fixture
def server() -> Iterator[AlertServer]:
    yield from serve()
