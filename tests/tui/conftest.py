"""Fixtures of the UI tests: the seeded tiny project, and an app on it at a fixed moment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import seed

from assetflow import Project


@pytest.fixture
def seeded(tmp_path: Path, clean_imports: None) -> Iterator[Project]:
    """The tiny project in ``tmp_path`` with its fixed history."""
    project = Project.load(seed.write(tmp_path / "tiny"))
    seed.seed(project)
    yield project
