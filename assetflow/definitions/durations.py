"""Short human durations: ``"10m"``, ``"26h"``, ``"1h30m"``, ``"500ms"``, or plain seconds.

Used for asset timeouts and freshness lags, in Python declarations and in ``assets.toml`` alike.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

__all__ = ["format_duration", "parse_duration"]

# Largest first: parse_duration requires components in this order, format_duration emits it.
_UNIT_MICROSECONDS: dict[str, int] = {
    "w": 7 * 86_400_000_000,
    "d": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
    "ms": 1_000,
    "us": 1,
}
_UNIT_ORDER = list(_UNIT_MICROSECONDS)

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# "ms" and "us" must be tried before "m" and "s", or "500ms" would read as 500 minutes + "s".
_COMPONENT = re.compile(rf"({_NUMBER})\s*(ms|us|w|d|h|m|s)")
_COMPONENTS = re.compile(rf"\s*(?:{_NUMBER}\s*(?:ms|us|w|d|h|m|s)\s*)+")
_PLAIN_SECONDS = re.compile(rf"\s*\+?{_NUMBER}\s*")

_FORMS = "a number of seconds or a duration like '30s', '10m', '26h', '1d', '2w', '1h30m', '500ms'"


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a duration: ``"10m"``, ``"1h30m"``, ``"500ms"``, a number of seconds, a timedelta.

    Units are ``w`` (weeks), ``d``, ``h``, ``m`` (minutes), ``s``, ``ms`` and ``us``; components
    go from the largest unit to the smallest, each at most once, and may be fractional
    (``"1.5h"``). Raises :class:`ValueError` with a message saying what is accepted for anything
    else, including negative or non-finite values.
    """
    if isinstance(text, timedelta):
        if text < timedelta(0):
            raise ValueError(f"a duration must not be negative, got {format_duration(text)}")
        return text
    # bool is an int subclass, but `timeout = true` is a mistake, not one second.
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise ValueError(f"invalid duration {text!r}: expected {_FORMS}")
    if isinstance(text, int | float):
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError(f"invalid duration {text!r}: expected a finite number of seconds")
        if text < 0:
            raise ValueError(f"a duration must not be negative, got {text!r}")
        # str() of a float is its shortest round-tripping form, so 0.1 means exactly 0.1 s.
        return _from_microseconds(Decimal(str(text)) * _UNIT_MICROSECONDS["s"], text)

    if _PLAIN_SECONDS.fullmatch(text):
        return _from_microseconds(Decimal(text.strip()) * _UNIT_MICROSECONDS["s"], text)
    if not _COMPONENTS.fullmatch(text):
        if text.strip().startswith("-"):
            raise ValueError(f"a duration must not be negative, got {text!r}")
        raise ValueError(f"invalid duration {text!r}: expected {_FORMS}")

    total = Decimal(0)
    previous = -1
    for match in _COMPONENT.finditer(text):
        number, unit = match.groups()
        position = _UNIT_ORDER.index(unit)
        if position <= previous:
            raise ValueError(
                f"invalid duration {text!r}: units must go from largest to smallest "
                "(w, d, h, m, s, ms, us), each at most once, as in '1h30m'"
            )
        previous = position
        total += Decimal(number) * _UNIT_MICROSECONDS[unit]
    return _from_microseconds(total, text)


def _from_microseconds(microseconds: Decimal, original: object) -> timedelta:
    try:
        whole = int(microseconds.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        return timedelta(microseconds=whole)
    except (OverflowError, InvalidOperation):
        raise ValueError(f"duration {original!r} is too large") from None


def format_duration(td: timedelta) -> str:
    """The short form of ``td`` that :func:`parse_duration` reads back: ``"1h30m"``, ``"500ms"``.

    Zero is ``"0s"``; a negative duration gets a leading ``-`` (for display only: parsing
    rejects it).
    """
    remaining = td // timedelta(microseconds=1)
    if remaining == 0:
        return "0s"
    sign = "-" if remaining < 0 else ""
    remaining = abs(remaining)
    parts: list[str] = []
    for unit, size in _UNIT_MICROSECONDS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
