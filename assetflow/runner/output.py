"""What asset code prints becomes log records of its step attempt.

``print()`` in an asset is the most common log line there is. While runs go on in a process,
``sys.stdout`` and ``sys.stderr`` are routers: text written from a thread running a step
attempt becomes that attempt's log records (logger ``<asset logger>.stdout`` / ``.stderr``,
level INFO / WARNING, one per line), stored with the materialization and shown by ``logs``,
and is echoed to the real stderr, a whole line at a time (steps printing at once never splice
their lines), so a terminal still shows it; text from any other thread
passes through unchanged. Never to stdout: there, a ``--json`` command's document must stand
alone (see also :mod:`assetflow.cli.streams`, which guards the descriptor too).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["adopting", "capturing_output", "current_sink", "routed_output"]

Sink = Callable[[str, str], None]

_sinks: dict[int, Sink] = {}
_lock = threading.Lock()
_installed = 0
_originals: tuple[TextIO, TextIO] | None = None


class _Router:
    """A text stream that sends a step thread's writes to its sink, the rest through."""

    def __init__(self, original: TextIO, name: str) -> None:
        self._original = original
        self._name = name

    def write(self, text: str) -> int:
        sink = _sinks.get(threading.get_ident())
        if sink is None:
            return self._original.write(text)
        sink(self._name, text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._original.flush()

    def close(self) -> None:
        """Asset code may not close the process's stream: assetflow still reports through it."""

    @property
    def closed(self) -> bool:
        return False

    @property
    def buffer(self) -> _BinaryRouter:
        """``sys.stdout.buffer``: bytes from a step thread are decoded into its log records."""
        return _BinaryRouter(self)

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self._original, name)


class _BinaryRouter:
    """The ``buffer`` of a :class:`_Router`: a step thread's bytes become its text."""

    def __init__(self, text: _Router) -> None:
        self._text = text

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if _sinks.get(threading.get_ident()) is None:
            return int(self._text._original.buffer.write(data))
        self._text.write(bytes(data).decode("utf-8", "backslashreplace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()

    def close(self) -> None:
        """Not the asset's to close (see :meth:`_Router.close`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._text._original.buffer, name)


@contextlib.contextmanager
def routed_output() -> Iterator[None]:
    """Install the routers for the block (nested and concurrent runs share one install)."""
    global _installed, _originals
    with _lock:
        if _installed == 0:
            _originals = (sys.stdout, sys.stderr)
            sys.stdout = _Router(sys.stdout, "stdout")
            sys.stderr = _Router(sys.stderr, "stderr")
        _installed += 1
    try:
        yield
    finally:
        with _lock:
            _installed -= 1
            if _installed == 0 and _originals is not None:
                sys.stdout, sys.stderr = _originals
                _originals = None


@contextlib.contextmanager
def capturing_output(handler: logging.Handler, logger_name: str) -> Iterator[None]:
    """Within the block, this thread's output becomes log records handled by ``handler``."""
    pending = {"stdout": "", "stderr": ""}
    echo = _originals[1] if _originals is not None else sys.__stderr__

    def emit(stream: str, line: str) -> None:
        level = logging.INFO if stream == "stdout" else logging.WARNING
        record = logging.LogRecord(f"{logger_name}.{stream}", level, "", 0, line, None, None, None)
        handler.handle(record)

    def echoed(line: str) -> None:
        # A whole line in one write: print() writes its pieces one by one, and two steps
        # printing at once would splice their lines together on the terminal.
        if echo is not None:
            with contextlib.suppress(Exception):
                echo.write(line + "\n")

    def sink(stream: str, text: str) -> None:
        *lines, pending[stream] = (pending[stream] + text).split("\n")
        for line in lines:
            echoed(line)
            emit(stream, line)

    ident = threading.get_ident()
    previous = _sinks.get(ident)
    _sinks[ident] = sink
    try:
        yield
    finally:
        if previous is None:
            _sinks.pop(ident, None)
        else:
            _sinks[ident] = previous
        for stream, rest in pending.items():
            if rest:
                echoed(rest)
                emit(stream, rest)


def current_sink() -> Sink | None:
    """This thread's sink, for a helper thread of the same step to adopt (:func:`adopting`)."""
    return _sinks.get(threading.get_ident())


@contextlib.contextmanager
def adopting(sink: Sink | None) -> Iterator[None]:
    """Within the block, this thread's output goes to ``sink`` (a step's timeout thread)."""
    if sink is None:
        yield
        return
    ident = threading.get_ident()
    _sinks[ident] = sink
    try:
        yield
    finally:
        _sinks.pop(ident, None)
