"""Shared fixtures: projects written into ``tmp_path``, loaded in-process without leaking.

``Project.load`` puts the project root on ``sys.path`` and imports the project's modules
(``pipeline`` and friends); ``clean_imports`` undoes both after each test that loads a project
in-process, so that one test's ``pipeline`` never becomes another's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from helpers import ProjectFactory, write_project
from hypothesis import settings

# CI must be deterministic: the same examples every run ("ci", the default). Explore new
# examples locally with HYPOTHESIS_PROFILE=explore; a failure found there becomes a test.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """Compile assetflow's modules to bytecode once, before any test starts.

    The suite starts ``python -m assetflow`` hundreds of times (and worker processes that import
    it); with ``PYTHONDONTWRITEBYTECODE`` set (``cli_env`` sets it for every subprocess, and
    some environments for pytest too) no process writes ``__pycache__``, so each one compiled
    every assetflow module it imports from source again. Compiled once here (what any import
    without that variable does; ``__pycache__`` is ignored by git), they are read instead;
    Python still checks each against its source, so an edited module is compiled afresh.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller did it before starting the workers
    import compileall
    import contextlib
    import importlib.util

    spec = importlib.util.find_spec("assetflow")
    for location in (spec.submodule_search_locations or []) if spec else []:
        with contextlib.suppress(OSError):  # a read-only install: imports compile as before
            compileall.compile_dir(location, quiet=1)


@pytest.fixture
def clean_imports(tmp_path: Path) -> Iterator[None]:
    """Restore ``sys.path`` and forget modules imported from ``tmp_path`` after the test."""
    saved_path = list(sys.path)
    before = set(sys.modules)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        root = tmp_path.resolve()
        for name in list(sys.modules):
            if name in before:
                continue
            location = getattr(sys.modules[name], "__file__", None)
            if location and Path(location).resolve().is_relative_to(root):
                del sys.modules[name]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """``make_project(toml, modules=None, *, pipeline=None, name="project")`` → its folder."""

    def make(
        toml: str | None = None,
        modules: Mapping[str, str] | None = None,
        *,
        pipeline: str | None = None,
        name: str = "project",
    ) -> Path:
        return write_project(tmp_path / name, toml, modules, pipeline=pipeline)

    return make


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's) on 127.0.0.1, for this test process's S3 tests."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


# The S3 tests' own credentials (moto accepts any): set in the test's environment, which CLI
# subprocesses inherit; the machine's own AWS configuration is kept out.
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "assetflow-test-key",
    "AWS_SECRET_ACCESS_KEY": "assetflow-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the test server, with the test credentials in the environment."""
    import uuid

    import fsspec

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in S3_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    bucket = f"assetflow-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", endpoint_url=s3_endpoint).mkdir(bucket)
    return bucket
