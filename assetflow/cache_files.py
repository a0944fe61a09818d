"""Small cache files next to the state file (code versions, parsed SQL names).

A cache is an optimisation: it is written whole and atomically (a reader never sees half of
it), and a cache that cannot be written (no folder yet, a read-only disk) is simply not kept.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename; do nothing if it cannot be written."""
    if not path.parent.is_dir():
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
