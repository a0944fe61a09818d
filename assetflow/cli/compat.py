"""Click's exception types, wherever this Typer version keeps them.

Recent Typer releases vendor Click as ``typer._click``; older ones depend on the ``click``
package. ``typer.Abort`` and ``typer.Exit`` are public in both.
"""

from __future__ import annotations

from typer import Abort, Exit
from typer.main import get_command

try:
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older Typer with a separate click package
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]

__all__ = ["Abort", "ClickException", "Exit", "get_command"]
