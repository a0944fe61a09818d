"""SQL of several statements: where a statement's query starts, and what a statement makes.

DuckDB's ``json_serialize_sql`` reads SELECT statements only. For the others the parser
(:func:`assetflow.sql.names.parse_sql`) needs two things DuckDB's tokenizer can tell: where the
query of a statement may start (``CREATE TABLE t AS <query>``, ``INSERT INTO t <query>``), so it
can be read as a subquery, and which table or catalog a statement makes (``CREATE [TEMP]
TABLE|VIEW name``, ``ATTACH 'file' [AS name]``), so later statements may name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from assetflow.sql.names import catalog_of, name_at, word_at

# Keywords a query (or a parenthesized one) may start with.
_QUERY_WORDS = frozenset(
    {"select", "with", "from", "values", "table", "pivot", "unpivot", "summarize", "describe"}
)
# Past this many candidates a statement is not worth reading (DuckDB would read each).
_MAX_STARTS = 16


def query_starts(statement: str) -> list[int]:
    """Byte offsets where the query of ``statement`` may start, in order: its start, then each
    query keyword or opening parenthesis outside parentheses."""
    data = statement.encode()
    starts = [0]
    depth = 0
    for start, kind in duckdb.tokenize(statement):
        if kind == duckdb.token_type.operator:
            char = data[start : start + 1]
            if char == b"(":
                if depth == 0 and start:
                    starts.append(start)
                depth += 1
            elif char == b")":
                depth = max(depth - 1, 0)
        elif (
            depth == 0
            and start
            and kind == duckdb.token_type.keyword
            and word_at(data, start) in _QUERY_WORDS
        ):
            starts.append(start)
    return starts[:_MAX_STARTS]


@dataclass
class Made:
    """The tables (lowercased parts) and catalogs the statements so far made."""

    tables: list[tuple[str, ...]] = field(default_factory=list)
    catalogs: set[str] = field(default_factory=set)

    def add(self, made: tuple[str, ...] | str | None) -> None:
        """Add what :func:`made_by` returned: a table's parts, a catalog's name, or nothing."""
        if isinstance(made, tuple):
            self.tables.append(made)
        elif made is not None:
            self.catalogs.add(made)

    def makes(self, parts: tuple[str, ...]) -> bool:
        """Whether ``parts`` name one of them: in a catalog made, or a table made (one name is
        a qualified form of the other: ``t``, ``temp.t``, ``temp.main.t`` are one table)."""
        lowered = tuple(part.lower() for part in parts)
        if len(lowered) > 1 and lowered[0] in self.catalogs:
            return True
        return any(
            lowered[-len(table) :] == table or table[-len(lowered) :] == lowered
            for table in self.tables
        )


def made_by(statement: str) -> tuple[str, ...] | str | None:
    """The table (its lowercased parts) or the catalog (its name) ``statement`` makes, if any."""
    data = statement.encode()
    tokens = duckdb.tokenize(statement)
    starts = [start for start, kind in tokens if kind != duckdb.token_type.comment]
    words = [word_at(data, start) for start in starts]
    if words[:1] == ["create"]:
        index = _skip(words, 1, {"or", "replace", "temp", "temporary", "persistent"})
        if index >= len(words) or words[index] not in ("table", "view"):
            return None
        index = _skip(words, index + 1, {"if", "not", "exists"})
        for count in (3, 2, 1):
            found = name_at(data, starts[index], count) if index < len(starts) else None
            if found is not None:
                return tuple(part.lower() for part in found[1])
        return None
    if words[:1] == ["attach"]:
        index = _skip(words, 1, {"database", "if", "not", "exists"})
        if index >= len(starts) or data[starts[index] : starts[index] + 1] != b"'":
            return None
        if "as" in words[index:]:
            alias = starts[index + words[index:].index("as") + 1 :]
            found = name_at(data, alias[0], 1) if alias else None
            return found[1][0].lower() if found else None
        end = data.find(b"'", starts[index] + 1)
        return catalog_of(data[starts[index] + 1 : end].decode()).lower()
    return None


def _skip(words: list[str], index: int, skipped: set[str]) -> int:
    while index < len(words) and words[index] in skipped:
        index += 1
    return index
