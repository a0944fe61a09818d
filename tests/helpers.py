"""Shared helpers for the CLI and loader tests: write a small project, run the real CLI.

``write_project`` puts an ``assets.toml`` and Python modules into a folder; ``run_cli`` runs
``python -m assetflow ...`` as a real subprocess (its own interpreter, its own ``sys.modules``)
and returns ``(exit code, stdout, stderr)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The type of the ``make_project`` fixture (see conftest.py).
ProjectFactory = Callable[..., Path]

# The smallest valid [project] table; tests append their own tables after it.
PROJECT_HEADER = """\
[project]
name = "t"
modules = ["pipeline"]
"""


def write_project(
    root: Path,
    toml: str | None = None,
    modules: Mapping[str, str] | None = None,
    *,
    pipeline: str | None = None,
) -> Path:
    """Write ``assets.toml`` and modules into ``root`` (created if needed); return ``root``.

    ``toml`` defaults to :data:`PROJECT_HEADER`. ``modules`` maps a file path relative to
    ``root`` (``"pipeline.py"``, ``"pkg/a.py"``) to its source; ``pipeline`` is a shorthand for
    ``{"pipeline.py": ...}``. Sources are dedented, so tests can indent them.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "assets.toml").write_text(
        textwrap.dedent(PROJECT_HEADER if toml is None else toml), encoding="utf-8"
    )
    files = dict(modules or {})
    if pipeline is not None:
        files["pipeline.py"] = pipeline
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def cli_env() -> dict[str, str]:
    """The environment for CLI subprocesses: no colour, no stray PYTHONPATH."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def run_cli(args: Sequence[str], cwd: Path | str, timeout: float = 60) -> tuple[int, str, str]:
    """Run ``python -m assetflow *args`` in ``cwd``; return (exit code, stdout, stderr)."""
    completed = subprocess.run(
        [sys.executable, "-m", "assetflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
        check=False,
    )
    return completed.returncode, completed.stdout, completed.stderr


def run_python(
    code: str, cwd: Path | str, timeout: float = 60, args: Sequence[str] = ()
) -> tuple[int, str, str]:
    """Run ``python -c code *args`` in ``cwd``; return (exit code, stdout, stderr)."""
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
        check=False,
    )
    return completed.returncode, completed.stdout, completed.stderr
