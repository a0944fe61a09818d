"""The code stays clean: ruff (lint and format) and mypy --strict, as configured in pyproject."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint() -> None:
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_second_command_is_what_ci_runs() -> None:
    """README's "set up and run the whole test suite" is .ci/run's command, verbatim: the
    extras it installs (dev, s3, dask, ...) are the ones the suite needs."""
    root = Path(__file__).resolve().parent.parent
    ci = (root / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert ci.startswith("python3 -m venv .venv && ")
    assert ci in readme.split("## ", 1)[0], "README's second command differs from .ci/run"
