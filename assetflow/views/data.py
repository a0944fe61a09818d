"""Values of stored rows as text: JSON values and CSV for scripts, one-line cells for people
(``assetflow show`` and the UI's preview pane). Pure functions over what DuckDB hands Python."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

__all__ = ["CELL_WIDTH", "cell", "csv_text", "json_value", "preview_rows", "text_table"]

CELL_WIDTH = 40
# Characters that would break a table's line or hide what a value holds.
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def json_value(value: Any) -> Any:
    """``value`` as JSON can carry it without loss: decimals as strings (exact), times in ISO
    8601, blobs in base64, NaN and infinities as strings, lists and structs recursively."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(item) for item in value]
    return str(value)


def _plain(value: Any) -> str:
    """One value as CSV text: ``""`` for NULL, JSON for lists and structs."""
    converted = json_value(value)
    if converted is None:
        return ""
    if isinstance(converted, bool):
        return "true" if converted else "false"
    if isinstance(converted, list | dict):
        return json.dumps(converted, ensure_ascii=False)
    return str(converted)


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A header line and one line per row, as RFC 4180 has it: lines end with CRLF, and a
    value with a comma, a quote or a line break (also a lone CR) is quoted, so that any CSV
    reader reads it back as it was."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_plain(value) for value in row])
    return out.getvalue()


def cell(value: Any, width: int = CELL_WIDTH) -> str:
    """One value on one line of at most ``width`` characters (4 or more): ``NULL``, what is
    not printable escaped (``\\n``, ``\\x07``, ``\\u202e``), cut with ``…`` when longer."""
    if value is None:
        return "NULL"
    text = _plain(value) if not isinstance(value, str) else value
    shown = "".join(_escape(char) for char in text)
    if len(shown) > width:
        shown = shown[: max(0, width - 1)] + "…"
    return shown


def _escape(char: str) -> str:
    """The character, or an escape for one that is not printable: controls, line and paragraph
    separators, invisible format characters (a right-to-left override), unassigned ones."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def preview_rows(rows: Sequence[Sequence[Any]], width: int = CELL_WIDTH) -> list[list[str]]:
    """Every row as one-line cells (see :func:`cell`)."""
    return [[cell(value, width) for value in row] for row in rows]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, as lines (cells already one-line text)."""
    widths = [len(header) for header in headers]
    for row in rows:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    return [
        "  ".join(text.ljust(widths[i]) for i, text in enumerate(row)).rstrip()
        for row in [list(headers), *map(list, rows)]
    ]
