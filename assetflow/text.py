"""Any text or value an asset produces, made storable: the recorder must never choke on it.

Asset code hands history whatever it has: log messages holding lone surrogates (what
``os.listdir`` returns for a file name that is not UTF-8), NUL bytes, megabytes of text,
exceptions whose ``__str__`` raises, metadata with tuple keys, cycles, NaN or objects JSON cannot
hold. DuckDB stores UTF-8 only, and one value it refuses used to fail the whole batch of the
run's history, again on every retry, heartbeat included. So every string on its way into the
state file passes :func:`storable_text`, and every user mapping :func:`dump_json`: both total
functions (they never raise) that keep what can be kept and escape the rest visibly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

__all__ = ["describe", "describe_exception", "dump_json", "json_safe", "storable_text"]

_MAX_DEPTH = 64
_MAX_INT_DIGITS = 4_000  # below Python's int/str conversion limit (4,300 digits)


def storable_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates become ``\\udcxx`` escapes, the rest is kept."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def describe(value: object) -> str:
    """``str(value)``, or its ``repr``, or its type: something readable, whatever ``value`` is."""
    for render in (str, repr):
        try:
            text = render(value)
        except Exception:  # __str__ / __repr__ are user code: they may raise anything
            continue
        if isinstance(text, str):
            return storable_text(text)
    return f"<{type(value).__name__} object (str() and repr() failed)>"


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of an exception, even when its ``__str__`` raises."""
    text = describe(exc)
    if text.startswith("<") and text.endswith("failed)>"):
        text = "(its str() raised)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def json_safe(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as plain JSON data: str keys, finite numbers, lists, no cycles.

    Values JSON cannot hold are written as readable text (``str()`` of an object, ISO dates,
    ``"nan"``); a container met again inside itself becomes ``"<cycle>"``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**_MAX_INT_DIGITS else f"<int of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return storable_text(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if _depth >= _MAX_DEPTH:
        return "<too deep>"
    if id(value) in _seen:
        return "<cycle>"
    seen = _seen | {id(value)}
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception:
            return describe(value)
        return {_json_key(k): json_safe(v, _depth + 1, seen) for k, v in items}
    if isinstance(value, list | tuple):
        return [json_safe(v, _depth + 1, seen) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v, _depth + 1, seen) for v in value), key=repr)
    return describe(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return storable_text(key)
    if key is None or isinstance(key, bool):
        return json.dumps(key)  # as json.dumps writes such keys: "null", "true"
    if isinstance(key, int | float):
        return str(json_safe(key))
    return describe(key)


def dump_json(value: Mapping[str, Any] | None) -> str | None:
    """Compact, valid JSON for a user-supplied mapping; ``None`` for an empty one.

    Never raises: an odd value must not keep a batch of history from being recorded.
    """
    if not value:
        return None
    try:
        return json.dumps(json_safe(value), separators=(",", ":"), sort_keys=True, allow_nan=False)
    except Exception as exc:  # json_safe makes this unreachable; a last line of defence
        return json.dumps({"unrecordable": describe_exception(exc)})
