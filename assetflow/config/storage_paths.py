"""The three places of ``[storage]`` must be three different places.

State and warehouse in one DuckDB file make every reader wait on the run holding it (and then
blame "another program"), and mix asset tables with the history's own (an asset named ``runs``
fails on the state's table). A data folder at the state file's path cannot be a folder. So
``assets.toml`` is refused at load when two of them name one place, however spelled: relative
or absolute, through ``..`` or a symbolic link, a hard link, or in another case on a file
system that ignores case.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

__all__ = ["same_place", "storage_clashes"]

# Pairs that may not name one place, and why, in the words of the error.
_PAIRS = (
    ("state", "warehouse", "the state file and the warehouse must be two files"),
    ("state", "data", "the data folder cannot be the state file"),
    ("warehouse", "data", "the data folder cannot be the warehouse file"),
)


def storage_clashes(paths: dict[str, Path]) -> list[tuple[str, str]]:
    """``(key, message)`` for each ``[storage]`` key naming the place an earlier key names.

    A key missing from ``paths`` (``data`` as an fsspec URL) clashes with nothing.
    """
    return [
        (later, f"names the same place as storage.{first} ({paths[first]}): {why}")
        for first, later, why in _PAIRS
        if first in paths and later in paths and same_place(paths[first], paths[later])
    ]


def same_place(first: Path, second: Path) -> bool:
    """Whether two paths (existing or not) reach the same file or folder."""
    one, other = os.path.realpath(first), os.path.realpath(second)
    if one == other:
        return True
    with suppress(OSError):
        if os.path.samefile(one, other):  # a hard link; another case where case is ignored
            return True
    return one.casefold() == other.casefold() and _ignores_case(Path(one).parent)


def _ignores_case(folder: Path) -> bool:
    """Whether the file system holding ``folder`` ignores case (macOS, Windows by default):
    the nearest existing folder is reached by its name in swapped case too."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    name = str(folder)
    swapped = name.swapcase()
    if swapped == name:
        return False
    try:
        return os.path.samefile(name, swapped)
    except OSError:
        return False
