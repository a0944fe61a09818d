"""The one error root of assetflow and its few meaningful families.

Every error a user can cause (bad configuration, bad declaration, bad command-line input) is an
:class:`AssetflowError`; the CLI turns it into one line on stderr and exit code 2. Anything else
escaping to the CLI is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AssetflowError(Exception):
    """Root of every error assetflow raises on purpose."""

    exit_code = 2


class ConfigError(AssetflowError):
    """`assets.toml` is missing, malformed, or fails validation (names file and key)."""


class DefinitionError(AssetflowError):
    """An asset, partition definition or mapping is declared wrongly (names the asset)."""


class GraphError(DefinitionError):
    """The asset graph is invalid: unknown upstream, duplicate name, cycle."""


class PartitionError(AssetflowError):
    """A partition key does not parse or lies outside its definition; a bad range."""


class SelectionError(AssetflowError):
    """A selection expression names unknown assets or does not parse."""


class ProjectLoadError(AssetflowError):
    """A project module failed to import."""


class RunCancelled(Exception):
    """A run was cancelled (Ctrl-C); ``result`` is what was recorded (a RunResult).

    Not an AssetflowError: the CLI exits 130 for it, not 2.
    """

    def __init__(self, result: object) -> None:
        super().__init__(f"run {getattr(result, 'run_id', '?')} cancelled")
        self.result = result


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A short ' (did you mean: a, b?)' suffix naming the closest candidates, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean: " + ", ".join(close) + "?)"


class StateError(AssetflowError):
    """The state store cannot be used: locked, corrupt, or written by a newer assetflow."""


class RunError(AssetflowError):
    """A run cannot start or continue as asked (bad partition range, unknown run or backfill)."""
