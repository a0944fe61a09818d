"""An attempt with a ``timeout``: stop waiting for it at the timeout, and say so.

Python cannot kill a thread: a timed-out function goes on in the background with its result
discarded, and a timed-out SQL asset has its DuckDB query interrupted.
"""

from __future__ import annotations

import threading
from typing import Any

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.context import Context
from assetflow.io.sql import run_sql_asset
from assetflow.runner.output import adopting, current_sink

__all__ = ["StepTimeout", "call_with_timeout", "sql_with_timeout"]


class StepTimeout(TimeoutError):
    """An attempt ran longer than the asset's ``timeout`` (retried if ``retry_on`` allows)."""


def sql_with_timeout(
    con: Any, definition: AssetDef, partition: str, context: Context, inputs: dict[str, Any]
) -> Any:
    """Run a SQL asset, interrupting DuckDB's query when the timeout passes."""
    assert definition.timeout is not None
    seconds = definition.timeout.total_seconds()
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        return run_sql_asset(con, definition, partition, context.time_window, inputs)
    except Exception as exc:
        if not timer.is_alive():
            raise StepTimeout(f"timed out after {seconds:g}s") from exc
        raise
    finally:
        timer.cancel()


def call_with_timeout(
    definition: AssetDef, kwargs: dict[str, Any], seconds: float, con: Any
) -> Any:
    """Run the function in its own thread and stop waiting after ``seconds``.

    Python cannot kill a thread: a timed-out function runs on in the background, but its
    result is discarded (the attempt is already recorded as failed and nothing is stored).
    """
    box: dict[str, Any] = {}
    sink = current_sink()

    def target() -> None:
        try:
            with adopting(sink):
                box["value"] = definition.fn(**kwargs)  # type: ignore[misc]
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"assetflow-{definition.name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        con.interrupt()  # stop a warehouse query the function may be running
        raise StepTimeout(f"timed out after {seconds:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")
