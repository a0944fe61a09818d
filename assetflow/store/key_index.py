"""Partition keys to their index, in SQL, from a :class:`~assetflow.partitions.keyspace.Layout`.

Screening an asset of a million partitions must not send a million keys to DuckDB: the status
cache's keys are numbered in the query instead. :func:`index_sql` gives the SQL expression of
a key's index (NULL or out of range when the key does not exist now), the joins it needs
(static keys, by position) and the conditions that hold exactly for existing keys: written
exactly as the key at that index, within ``[0, count)`` in every dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assetflow.partitions.keyspace import Layout

_HOUR_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass
class IndexSql:
    """An index expression with the joins, conditions and parameters it needs."""

    expression: str = "0"
    source: str = "partition_status s"  # what the column belongs to
    joins: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    parameters: dict[str, object] = field(default_factory=dict)


def index_sql(layout: Layout, column: str = "s.partition", prefix: str = "k") -> IndexSql:
    """The index of the key in ``column`` (``TABLE.partition`` of ``partition_status``; use
    ``IndexSql.source`` as that table in the FROM clause)."""
    found = IndexSql()
    if layout.unit == "multi":
        # Split once, in a subquery: a join on split_part splits again for every probe.
        table, _, name = column.partition(".")
        found.source = (
            f"(SELECT *, string_split({name}, '|') AS parts FROM partition_status) {table}"
        )
        found.conditions.append(f"len({table}.parts) = {len(layout.parts)}")
        terms: list[str] = []
        for i, part in enumerate(layout.parts):
            inner = _part(part, f"{table}.parts[{i + 1}]", f"{prefix}{i}", found)
            found.conditions.append(f"({inner}) BETWEEN 0 AND {part.count - 1}")
            terms.append(f"({inner})")
        expression = terms[0]
        for part, term in zip(layout.parts[1:], terms[1:], strict=True):
            expression = f"({expression}) * {part.count} + {term}"
        found.expression = expression
        return found
    found.expression = _part(layout, column, prefix, found)
    found.conditions.append(f"({found.expression}) BETWEEN 0 AND {layout.count - 1}")
    return found


def _part(layout: Layout, text: str, name: str, into: IndexSql) -> str:
    """The index expression of one dimension; adds its joins, conditions and parameters."""
    start = layout.start
    if layout.unit == "none":
        into.conditions.append(f"{text} = '-'")
        return "0"
    if layout.unit == "list":
        into.joins.append(
            f"JOIN (SELECT UNNEST(${name}) AS key, UNNEST(range(len(${name}))) AS pos) {name} "
            f"ON {name}.key = {text}"
        )
        into.parameters[name] = list(layout.keys)
        return f"{name}.pos"
    if layout.unit in ("day", "week"):
        day = f"TRY_CAST({text} AS DATE)"
        into.conditions.append(f"strftime({day}, '%Y-%m-%d') = {text}")
        days = f"date_diff('day', DATE '{_literal(start)}', {day})"
        if layout.unit == "day":
            return days
        into.conditions.append(f"{days} % 7 = 0")
        return f"({days}) // 7"
    if layout.unit == "month":
        day = f"TRY_CAST({text} || '-01' AS DATE)"
        into.conditions.append(f"strftime({day}, '%Y-%m') = {text}")
        year, month = (int(part) for part in start.split("-"))
        return f"(year({day}) * 12 + month({day}) - 1 - {year * 12 + month - 1})"
    if layout.unit == "hour":
        wall = f"TRY_STRPTIME({text}, '{_HOUR_FORMAT}')"
        into.conditions.append(f"strftime({wall}, '{_HOUR_FORMAT}') = {text}")
        minutes = f"date_diff('minute', TIMESTAMP '{_literal(start.replace('T', ' '))}', {wall})"
        into.conditions.append(f"{minutes} % 60 = 0")
        return f"({minutes}) // 60"
    raise ValueError(f"unknown layout unit {layout.unit!r}")


def _literal(text: str) -> str:
    """A date or time key as a SQL literal body (keys of time layouts are digits, -, : and T)."""
    if not all(ch.isdigit() or ch in "-: T" for ch in text):
        raise ValueError(f"not a date or time: {text!r}")
    return text
