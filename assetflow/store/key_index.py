"""Partition keys to their index, in SQL, from a :class:`~assetflow.partitions.keyspace.Layout`.

Screening an asset of a million partitions must not send a million keys to DuckDB: the status
cache's keys are numbered in the query instead. :func:`existing_rows` is a subquery of the
``partition_status`` rows of some assets whose key exists now, each with its index ``idx``:
the key is written exactly as the key at that index, and the index lies within ``[0, count)``
in every dimension. Each value is computed once, one level of the subquery after another
(DuckDB does not share an expression repeated in a condition and a projection).
"""

from __future__ import annotations

from assetflow.partitions.keyspace import Layout

_HOUR_FORMAT = "%Y-%m-%dT%H:%M"


def existing_rows(layout: Layout, names: str = "names") -> tuple[str, dict[str, object]]:
    """The subquery (to alias) of the rows of assets ``$names`` whose key exists, with
    ``idx``; and the parameters it needs besides ``names``."""
    multi = layout.unit == "multi"
    parts = layout.parts if multi else (layout,)
    texts = [f"parts[{i + 1}]" if multi else "partition" for i in range(len(parts))]
    split = ", string_split(partition, '|') AS parts" if multi else ""
    base = f"SELECT *{split} FROM partition_status WHERE asset IN (SELECT UNNEST(${names}))"
    parsed: list[str] = []
    joins: list[str] = []
    canonical: list[str] = []
    numbers: list[str] = []
    steps: list[int] = []
    parameters: dict[str, object] = {}
    for i, (part, text) in enumerate(zip(parts, texts, strict=True)):
        value, number, step, check, join = _dimension(part, text, f"p{i}", f"k{i}")
        parsed.append(f"{value} AS p{i}")
        canonical.append(check)
        numbers.append(f"{number} AS n{i}")
        steps.append(step)
        if join:
            joins.append(join)
            parameters[f"k{i}"] = list(part.keys)
    conditions = [f"len(parts) = {len(parts)}"] if multi else []
    index = "0"
    for i, (part, step) in enumerate(zip(parts, steps, strict=True)):
        if step > 1:
            conditions.append(f"n{i} % {step} = 0")
        conditions.append(f"n{i} // {step} BETWEEN 0 AND {part.size - 1}")
        index = f"({index}) * {part.size} + n{i} // {step}"
    sql = (
        f"SELECT *, {index} AS idx FROM ("
        f"SELECT *, {', '.join(numbers)} FROM ("
        f"SELECT b.*, {', '.join(parsed)} FROM ({base}) b {' '.join(joins)}"
        f") WHERE {' AND '.join(canonical)}"
        f") WHERE {' AND '.join(conditions)}"
    )
    return sql, parameters


def _dimension(layout: Layout, text: str, value: str, table: str) -> tuple[str, str, int, str, str]:
    """One dimension: its parsed value, the number derived from it (the index times the step),
    the step, the check that the text is written as that value's key, and a join if any."""
    start = layout.start
    if layout.unit == "none":
        return "0", value, 1, f"{text} = '-'", ""
    if layout.unit == "list":
        join = (
            f"JOIN (SELECT UNNEST(${table}) AS key, UNNEST(range(len(${table}))) AS pos) "
            f"{table} ON {table}.key = b.{text}"
        )
        return f"{table}.pos", value, 1, "true", join
    if layout.unit in ("day", "week"):
        number = f"date_diff('day', DATE '{_literal(start)}', {value})"
        check = f"strftime({value}, '%Y-%m-%d') = {text}"
        return f"TRY_CAST(b.{text} AS DATE)", number, 7 if layout.unit == "week" else 1, check, ""
    if layout.unit == "month":
        year, month = (int(part) for part in start.split("-"))
        number = f"year({value}) * 12 + month({value}) - 1 - {year * 12 + month - 1}"
        check = f"strftime({value}, '%Y-%m') = {text}"
        return f"TRY_CAST(b.{text} || '-01' AS DATE)", number, 1, check, ""
    if layout.unit == "hour":
        literal = _literal(start.replace("T", " "))
        number = f"date_diff('minute', TIMESTAMP '{literal}', {value})"
        check = f"strftime({value}, '{_HOUR_FORMAT}') = {text}"
        return f"TRY_STRPTIME(b.{text}, '{_HOUR_FORMAT}')", number, 60, check, ""
    raise ValueError(f"unknown layout unit {layout.unit!r}")


def _literal(text: str) -> str:
    """A date or time key as a SQL literal body (keys of time layouts are digits, -, : and T)."""
    if not all(ch.isdigit() or ch in "-: T" for ch in text):
        raise ValueError(f"not a date or time: {text!r}")
    return text
