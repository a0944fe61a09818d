"""Ctrl-C and SIGTERM during a run: noted at once, acted on where the run can stop cleanly.

Raising ``KeyboardInterrupt`` wherever the signal lands breaks the run's bookkeeping in windows
of microseconds: a step submitted but not yet noted, a result popped but not yet recorded, a
batch committed but not yet acknowledged. So while a run (or a backfill around it) is being
recorded, SIGINT and SIGTERM only set an event: the run loop checks it (within its poll
interval), running steps see it through ``StepEnvironment.cancel``, and the run ends
``cancelled`` with every record written once. A second signal is the user insisting: it raises
``KeyboardInterrupt`` at once, as before.

Signal handlers can only be installed from the main thread; elsewhere (a UI worker, embedded
use) the gate still hands out an event that the caller can set to cancel.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["deferred_interrupts"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active: threading.Event | None = None  # the outermost gate's event, in the main thread


@contextlib.contextmanager
def deferred_interrupts(cancel: threading.Event | None = None) -> Iterator[threading.Event]:
    """Within this block SIGINT/SIGTERM set the yielded event instead of raising.

    Nested blocks share the outermost block's event (a backfill around its run). ``cancel``
    is an event to use when this is the outermost block (one a caller may also set).
    """
    global _active
    if _active is not None:
        yield _active
        return
    event = cancel or threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous: dict[int, Any] = {}

    def note(signum: int, frame: FrameType | None) -> None:
        if event.is_set():  # the second signal: stop now, whatever is half done
            _restore(previous)
            raise KeyboardInterrupt
        event.set()

    try:
        for signum in _SIGNALS:
            previous[signum] = signal.signal(signum, note)
    except ValueError:  # not allowed here after all: keep the handlers as they are
        _restore(previous)
        yield event
        return
    _active = event
    try:
        yield event
    finally:
        _active = None
        _restore(previous)


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
