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
