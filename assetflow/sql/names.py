"""Table names in SQL assets, read by DuckDB's own parser.

SQL may name the table the duckdb IO manager writes for asset ``orders`` as ``orders``,
``"orders"``, ``ORDERS``, ``main.orders``, ``warehouse.orders`` or ``warehouse.main.orders``
(``warehouse`` being the warehouse's catalog: its file name up to the first dot), in any quoting
and case, with whitespace or comments around the dots, in CTEs, subqueries, joins, set operations
and ``IN (...)``. A CTE of the same name hides the table from unqualified names in its scope, a
table the SQL made itself earlier (``CREATE TEMP TABLE t AS ...; SELECT * FROM t``) is its own,
and names in string literals or comments are not names at all. A text scanner gets some of that
wrong, so this asks DuckDB: ``json_serialize_sql`` returns the parsed statements, with every
base-table reference and its position in the text, or the syntax error and where it is.

The loader turns the names into dependencies and refuses unknown ones
(:mod:`assetflow.sql.reads`), and :func:`assetflow.io.sql.run_sql_asset` uses the positions to
point catalog-qualified names at the TEMP views holding the mapped partitions (an unqualified or
``main.`` name finds the TEMP view by itself; a catalog-qualified one would reach past it to the
whole table).

Importing DuckDB and opening a parser costs a project load about half a second, so this module
imports it only to parse, and the loader keeps what it parsed in a small file next to the state
(:func:`assetflow.sql.reads.parse_cache`): a project whose SQL did not change loads without
DuckDB.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# DuckDB's "no position" (an unsigned -1), e.g. for the table of DESCRIBE or SUMMARIZE.
_NO_LOCATION = 2**64 - 1
# What may separate the parts of a qualified name: whitespace and comments.
_GAP = re.compile(rb"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_QUOTED = re.compile(rb'"((?:[^"]|"")*)"')
_BARE = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*")


@dataclass(frozen=True)
class TableName:
    """One base-table reference: its parts as written (1 to 3) and where the name starts.

    ``location`` is a UTF-8 byte offset into the SQL text (DuckDB's unit), ``None`` when DuckDB
    gives none.
    """

    parts: tuple[str, ...]
    location: int | None
    # A column reference with at least three parts (``warehouse.main.orders.amount``) instead:
    # its leading parts may name a table, which must then be renamed along with it.
    column: bool = False

    def table_in(self, catalog: str) -> str | None:
        """The lowercased table of ``catalog``'s ``main`` schema this names, or ``None``.

        DuckDB reads ``a.t`` as schema ``a`` of the current catalog, or else as catalog ``a``'s
        default schema (``main``); names compare case-insensitively, quoted or not.
        """
        *qualifiers, table = (part.lower() for part in self.parts)
        if qualifiers in ([], ["main"], [catalog.lower()], [catalog.lower(), "main"]):
            return table
        return None

    def names_catalog(self) -> bool:
        """Whether the name spells out a catalog, which reaches past TEMP views."""
        return len(self.parts) == 3 or (len(self.parts) == 2 and self.parts[0].lower() != "main")


def catalog_of(path: str | Path) -> str:
    """The catalog name DuckDB gives a database file: its name up to the first dot.

    As DuckDB's ``AttachedDatabase::ExtractDatabaseName``: ``warehouse.duckdb`` is
    ``warehouse``, ``.hidden.db`` is ``hidden``, ``:memory:`` is ``memory``, and a file that
    would be called ``main`` or ``temp`` is ``main_db`` or ``temp_db``.
    """
    text = str(path)
    if text in ("", ":memory:") or text.startswith(":memory:"):
        return "memory"
    pieces = [piece for piece in Path(text).name.split(".") if piece]
    name = pieces[0] if pieces else Path(text).name
    return f"{name}_db" if name in ("main", "temp") else name


_WRITTEN_PART = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([^."\s]+))\s*')


def split_table_name(text: str) -> tuple[str, ...] | None:
    """The parts of a table name written in SQL (``raw.payments``, ``"raw"."Payments"``): one to
    three, quoted or not; ``None`` if ``text`` is not such a name."""
    parts: list[str] = []
    position = 0
    while True:
        match = _WRITTEN_PART.match(text, position)
        if match is None or len(parts) == 3:
            return None
        quoted, bare = match.groups()
        parts.append(bare if quoted is None else quoted.replace('""', '"'))
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ".":
            return None
        position += 1


_PARSER_LOCK = threading.Lock()
_PARSER: list[duckdb.DuckDBPyConnection] = []


def _parser() -> duckdb.DuckDBPyConnection:
    """The in-memory connection that parses (call with ``_PARSER_LOCK`` held)."""
    import duckdb

    if not _PARSER:
        _PARSER.append(duckdb.connect(":memory:"))
    return _PARSER[0]


def _serialize(text: str) -> dict[str, Any]:
    """DuckDB's parse of ``text`` as JSON (``{"error": true, ...}`` if it is not SELECTs)."""
    import duckdb

    with _PARSER_LOCK:
        try:
            rows = _parser().execute("SELECT json_serialize_sql($1::VARCHAR)", [text]).fetchall()
        except duckdb.Error as error:  # the parse itself is reported as JSON; this is a fault
            return {"error": True, "error_type": type(error).__name__}
    tree: dict[str, Any] = json.loads(rows[0][0])
    return tree


@dataclass(frozen=True)
class Parsed:
    """What DuckDB's parser read in one SQL text.

    ``names`` are the table references of :func:`table_names` and the long column references;
    ``error`` is the parser's message if the text does not parse (``error_at`` its UTF-8 byte
    offset, when DuckDB gives one).
    """

    names: tuple[TableName, ...] = ()
    error: str | None = None
    error_at: int | None = None


def table_names(text: str) -> tuple[TableName, ...] | None:
    """Every base-table reference in ``text`` that is not a CTE's, or ``None`` if unparsable."""
    names = references(text)
    return None if names is None else tuple(name for name in names if not name.column)


def references(text: str) -> tuple[TableName, ...] | None:
    """The names of :func:`parse_sql`, or ``None`` if ``text`` does not parse."""
    parsed = parse_sql(text)
    return None if parsed.error is not None else parsed.names


@lru_cache(maxsize=4096)
def parse_sql(text: str) -> Parsed:
    """The table and long column references in ``text``, or DuckDB's syntax error.

    DuckDB serializes only SELECT statements. SQL with others is taken statement by statement
    (:mod:`assetflow.sql.statements`): the query a statement holds (``CREATE TABLE t AS
    query``, ``INSERT INTO t query``, a ``PIVOT ... IN (...)``) is read as the subquery of a
    ``SELECT``, and a name of a table or catalog an earlier statement made (``CREATE``,
    ``ATTACH``) is the SQL's own, not a reference. A statement without a query (``SET``) names
    no table here.
    """
    tree = _serialize(text)
    if not tree.get("error"):
        found: list[TableName] = []
        _collect(tree.get("statements", []), frozenset(), found)
        return Parsed(tuple(found))
    if tree.get("error_type") == "parser":
        return _failure(tree)
    # Not SELECTs only (or a fault of the serializer): statement by statement, which reports a
    # syntax error DuckDB's statement splitter finds.
    import duckdb

    from assetflow.sql.statements import Made, made_by, query_starts

    with _PARSER_LOCK:
        try:
            statements = [statement.query for statement in _parser().extract_statements(text)]
        except duckdb.Error as error:
            return Parsed((), str(error).split("\n")[0].removeprefix("Parser Error: "))
    made = Made()
    names: list[TableName] = []
    position = 0
    for statement in statements:
        at = text.find(statement, position)
        if at < 0:  # pragma: no cover - DuckDB gives each statement's own text
            return Parsed((), "DuckDB could not split it into statements")
        position = at + len(statement)
        offset = len(text[:at].encode())
        for name in _statement_names(statement, query_starts(statement)):
            if name.column or not made.makes(name.parts):
                location = None if name.location is None else name.location + offset
                names.append(TableName(name.parts, location, name.column))
        made.add(made_by(statement))
    return Parsed(tuple(names))


def _failure(tree: dict[str, Any]) -> Parsed:
    message = tree.get("error_message") or "syntax error"
    position = str(tree.get("position", ""))
    return Parsed((), str(message), int(position) if position.isdigit() else None)


_WRAP = "SELECT * FROM (\n"


def _statement_names(statement: str, starts: list[int]) -> list[TableName]:
    """The names in one statement, its own offsets; its query read as a subquery if need be.

    ``starts`` are the byte offsets where its query may begin, in order; the first that reads
    to the end of the statement as a subquery is its query.
    """
    tree = _serialize(statement)
    shift = 0
    if tree.get("error"):
        data = statement.encode()
        for start in starts:
            body = data[start:].decode().rstrip().rstrip(";")
            tree = _serialize(_WRAP + body + "\n)")
            if not tree.get("error"):
                shift = start - len(_WRAP.encode())
                break
        else:
            return []
    found: list[TableName] = []
    _collect(tree.get("statements", []), frozenset(), found)
    return [
        TableName(n.parts, None if n.location is None else n.location + shift, n.column)
        for n in found
    ]


@lru_cache(maxsize=1)
def _system_views() -> frozenset[tuple[str, str]]:
    """``(schema, name)`` of the views DuckDB's ``system`` catalog has in every database."""
    query = "SELECT schema_name, view_name FROM duckdb_views() WHERE internal"
    with _PARSER_LOCK:
        rows = _parser().execute(query).fetchall()
    return frozenset((str(schema).lower(), str(name).lower()) for schema, name in rows)


def is_system_name(parts: tuple[str, ...]) -> bool:
    """Whether ``parts`` name one of DuckDB's own catalog views, found as DuckDB finds them.

    ``information_schema.tables``, ``pg_catalog.pg_class`` or ``pg_class``, ``duckdb_tables``,
    ``system.main.sqlite_master``: the ``system`` catalog's ``main`` and ``pg_catalog``
    schemas are on the search path, ``information_schema`` must be named.
    """
    views = _system_views()
    *qualifiers, table = (part.lower() for part in parts)
    if qualifiers[:1] == ["system"]:
        qualifiers = qualifiers[1:] or ["main"]
        return len(qualifiers) == 1 and (qualifiers[0], table) in views
    if not qualifiers:
        return ("main", table) in views or ("pg_catalog", table) in views
    return len(qualifiers) == 1 and (qualifiers[0], table) in views


def _collect(node: object, ctes: frozenset[str], found: list[TableName]) -> None:
    """Add the base-table references under ``node``; ``ctes`` are the CTE names in scope."""
    if isinstance(node, list):
        for item in node:
            _collect(item, ctes, found)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        # A CTE's body sees the CTEs before it (and itself only if recursive); what follows
        # the WITH sees them all.
        for entry in cte_map.get("map") or []:
            name = str(entry["key"]).lower()
            body = entry.get("value") or {}
            recursive = (body.get("query_node") or {}).get("type") == "RECURSIVE_CTE_NODE"
            _collect(body, ctes | {name} if recursive else ctes, found)
            ctes = ctes | {name}
    if node.get("type") == "BASE_TABLE" and "table_name" in node:
        parts = tuple(
            str(node[key]) for key in ("catalog_name", "schema_name", "table_name") if node.get(key)
        )
        if parts and (len(parts) > 1 or parts[0].lower() not in ctes):
            location = node.get("query_location")
            at = None if not isinstance(location, int) or location == _NO_LOCATION else location
            found.append(TableName(parts, at))
    names = node.get("column_names")
    if node.get("class") == "COLUMN_REF" and isinstance(names, list) and len(names) >= 3:
        location = node.get("query_location")
        at = None if not isinstance(location, int) or location == _NO_LOCATION else location
        found.append(TableName(tuple(str(name) for name in names), at, column=True))
    for key, value in node.items():
        if key != "cte_map":
            _collect(value, ctes, found)


def name_at(data: bytes, start: int, count: int) -> tuple[int, tuple[str, ...]] | None:
    """The end and parts of a ``count``-part name starting at byte ``start``, if one does."""
    parts: list[str] = []
    position = start
    for index in range(count):
        if index:
            gap = _GAP.match(data, position)
            position = gap.end() if gap else position
            if data[position : position + 1] != b".":
                return None
            gap = _GAP.match(data, position + 1)
            position = gap.end() if gap else position + 1
        match = _QUOTED.match(data, position) or _BARE.match(data, position)
        if match is None:
            return None
        text = match.group(1) if match.re is _QUOTED else match.group()
        parts.append(text.replace(b'""', b'"').decode("utf-8", "replace"))
        position = match.end()
    return position, tuple(parts)


def word_at(data: bytes, start: int) -> str:
    """The lowercased unquoted word starting at byte ``start`` of ``data``, or ``""``."""
    match = _BARE.match(data, start)
    return match.group().decode("utf-8", "replace").lower() if match else ""


def _same(a: Iterable[str], b: Iterable[str]) -> bool:
    return [part.lower() for part in a] == [part.lower() for part in b]


Span = tuple[int, int, tuple[str, ...]]


def name_spans(text: str, names: Iterable[TableName]) -> list[Span] | None:
    """Where ``names`` are in ``text``: ``(start, end, parts)`` with UTF-8 byte offsets, or
    ``None`` if one of them cannot be found.

    A name without a position (the table of ``DESCRIBE``) is looked for among DuckDB's tokens,
    and must be found exactly as many times as it occurs without one.
    """
    data = text.encode()
    spans: list[Span] = []
    unplaced: dict[tuple[str, ...], int] = {}
    for name in names:
        if name.location is None:
            key = tuple(part.lower() for part in name.parts)
            unplaced[key] = unplaced.get(key, 0) + 1
            continue
        found = name_at(data, name.location, len(name.parts))
        if found is None or not _same(found[1], name.parts):
            return None
        spans.append((name.location, found[0], found[1]))
    import duckdb

    taken = {start for start, _, _ in spans}
    for key, count in unplaced.items():
        candidates = []
        for start, _ in duckdb.tokenize(text):
            found = name_at(data, start, len(key))
            if start not in taken and found is not None and _same(found[1], key):
                candidates.append((start, found[0], found[1]))
        if len(candidates) != count:
            return None
        spans.extend(candidates)
    return sorted(spans)


def replace_spans(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each UTF-8 byte span ``[start, end)`` replaced by its new text."""
    data = text.encode()
    pieces: list[bytes] = []
    position = 0
    for start, end, new in sorted(replacements):
        pieces += [data[position:start], new.encode()]
        position = end
    pieces.append(data[position:])
    return b"".join(pieces).decode()
