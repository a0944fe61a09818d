"""Standard output that holds only the command's document, whatever asset code prints.

With ``--json``, scripts parse stdout as one JSON document. Asset code runs in the same process
and may print (``print()``, a C library, a subprocess it starts), so while such a command runs,
file descriptor 1 points at stderr and only :func:`document_stream` reaches the real stdout.
Working on descriptors, not on ``sys.stdout``, also catches output that bypasses Python.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO

__all__ = ["document_stream", "stdout_for_document_only"]

_document: TextIO | None = None


def document_stream() -> TextIO:
    """Where a command's document goes: the real stdout."""
    return _document if _document is not None else sys.stdout


@contextlib.contextmanager
def stdout_for_document_only() -> Iterator[None]:
    """Within the block, anything written to stdout goes to stderr, but the document."""
    global _document
    if _document is not None:
        yield
        return
    try:
        sys.stdout.flush()
        on_descriptor = sys.stdout.fileno() == 1
    except (OSError, ValueError, AttributeError):  # a stream of the caller's (embedded use)
        on_descriptor = False
    if not on_descriptor:
        # The caller's stdout object is not descriptor 1: keep the document there, and send
        # what Python code prints meanwhile to stderr.
        _document, caller_stdout = sys.stdout, sys.stdout
        sys.stdout = sys.stderr
        try:
            yield
        finally:
            sys.stdout, _document = caller_stdout, None
        return
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        yield
        return
    _document = os.fdopen(saved, "w", encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()  # what the assets printed, to stderr still
        document, _document = _document, None
        with contextlib.suppress(Exception):
            document.flush()
            os.dup2(document.fileno(), 1)
        with contextlib.suppress(Exception):
            document.close()
