"""Table names in SQL assets, read by DuckDB's own parser.

SQL may name the table the duckdb IO manager writes for asset ``orders`` as ``orders``,
``"orders"``, ``ORDERS``, ``main.orders``, ``warehouse.orders`` or ``warehouse.main.orders``
(``warehouse`` being the warehouse's catalog: its file name up to the first dot), in any quoting
and case, with whitespace or comments around the dots, in CTEs, subqueries, joins and
``IN (...)``. A CTE of the same name hides the table from unqualified names in its scope, and
names in string literals or comments are not names at all. A text scanner gets some of that
wrong, so this asks DuckDB: ``json_serialize_sql`` returns the parsed statements, with every
base-table reference and its position in the text.

The loader turns the names into dependencies (:func:`sql_dependencies`), and
:func:`assetflow.io.sql.run_sql_asset` uses the positions to point catalog-qualified names at
the TEMP views holding the mapped partitions (an unqualified or ``main.`` name finds the TEMP
view by itself; a catalog-qualified one would reach past it to the whole table).

Importing DuckDB and opening a parser costs a project load about half a second, so this module
imports it only to parse, and the loader keeps what it parsed in a small file next to the state
(:func:`parse_cache`): a project whose SQL did not change loads without DuckDB.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.cache_files import write_atomically

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


_PARSER_LOCK = threading.Lock()
_PARSER: list[duckdb.DuckDBPyConnection] = []


def _serialize(text: str) -> dict[str, Any]:
    """DuckDB's parse of ``text`` as JSON (``{"error": true, ...}`` if it is not SELECTs)."""
    import duckdb

    with _PARSER_LOCK:
        if not _PARSER:
            _PARSER.append(duckdb.connect(":memory:"))
        try:
            rows = _PARSER[0].execute("SELECT json_serialize_sql($1::VARCHAR)", [text]).fetchall()
        except duckdb.Error as error:  # the parse itself is reported as JSON; this is a fault
            return {"error": True, "error_type": type(error).__name__}
    tree: dict[str, Any] = json.loads(rows[0][0])
    return tree


def table_names(text: str) -> tuple[TableName, ...] | None:
    """Every base-table reference in ``text`` that is not a CTE's, or ``None`` if unparsable."""
    names = references(text)
    return None if names is None else tuple(name for name in names if not name.column)


@lru_cache(maxsize=4096)
def references(text: str) -> tuple[TableName, ...] | None:
    """The table references of :func:`table_names` and the long column references.

    DuckDB serializes only SELECT statements. SQL with others is taken statement by statement:
    one DuckDB parses but cannot serialize (``PIVOT ... IN (...)``) is read as the subquery of
    a ``SELECT``; one that is no query (``SET``), or more than one (a ``PIVOT`` without ``IN``,
    which first looks up its columns), names no table here.
    """
    found: list[TableName] = []
    tree = _serialize(text)
    if not tree.get("error"):
        _collect(tree.get("statements", []), frozenset(), found)
        return tuple(found)
    if tree.get("error_type") != "not implemented":
        return None
    import duckdb

    with _PARSER_LOCK:
        try:
            statements = [statement.query for statement in _PARSER[0].extract_statements(text)]
        except duckdb.Error:
            return None
    position = 0
    for statement in statements:
        at = text.find(statement, position)
        if at < 0:  # pragma: no cover - DuckDB gives each statement's own text
            return None
        position = at + len(statement)
        offset = len(text[:at].encode())
        tree = _serialize(statement)
        if tree.get("error"):
            prefix = "SELECT * FROM (\n"
            tree = _serialize(prefix + statement.rstrip().rstrip(";") + "\n)")
            offset -= len(prefix.encode())
        if tree.get("error"):
            continue
        names: list[TableName] = []
        _collect(tree.get("statements", []), frozenset(), names)
        found += [
            TableName(
                name.parts,
                None if name.location is None else name.location + offset,
                name.column,
            )
            for name in names
        ]
    return tuple(found)


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


def _name_at(data: bytes, start: int, count: int) -> tuple[int, tuple[str, ...]] | None:
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
        found = _name_at(data, name.location, len(name.parts))
        if found is None or not _same(found[1], name.parts):
            return None
        spans.append((name.location, found[0], found[1]))
    import duckdb

    taken = {start for start, _, _ in spans}
    for key, count in unplaced.items():
        candidates = []
        for start, _ in duckdb.tokenize(text):
            found = _name_at(data, start, len(key))
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


# -- dependencies, with the parses of earlier loads -------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)


class _ParseCache:
    """Table-name parts per SQL text (by digest), kept between loads while active."""

    def __init__(self) -> None:
        self.entries: dict[str, list[list[str]] | None] = {}
        self.used: set[str] = set()
        self.dirty = False
        self.active = False


_CACHE = _ParseCache()


def _cache_format() -> str:
    # Another DuckDB may parse differently: its version is part of the format.
    try:
        version = metadata.version("duckdb")
    except metadata.PackageNotFoundError:  # pragma: no cover - duckdb is a dependency
        version = "?"
    return f"assetflow-sql-names-1-duckdb-{version}"


@contextlib.contextmanager
def parse_cache(path: Path) -> Iterator[None]:
    """Use (and afterwards update) the parse cache in ``path`` while loading.

    A missing, unreadable or foreign file is an empty cache; the file is written only into an
    existing folder, keeps only the queries of this load, and a failed write is skipped.
    """
    form = _cache_format()
    try:
        document = json.loads(path.read_text())
        entries = document["queries"] if document.get("format") == form else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        entries = {}
    _CACHE.entries = entries if isinstance(entries, dict) else {}
    _CACHE.used, _CACHE.dirty, _CACHE.active = set(), False, True
    try:
        yield
    finally:
        _CACHE.active = False
        if _CACHE.dirty or set(_CACHE.entries) - _CACHE.used:
            kept = {key: _CACHE.entries[key] for key in _CACHE.used if key in _CACHE.entries}
            write_atomically(path, json.dumps({"format": form, "queries": kept}))


def _table_parts(text: str) -> list[list[str]] | None:
    """The parts of every table name in ``text`` (``None`` if unparsable), cached if active."""
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    if _CACHE.active and key in _CACHE.entries:
        entry = _CACHE.entries[key]
        if entry is None or all(
            isinstance(parts, list) and all(isinstance(p, str) for p in parts) for parts in entry
        ):
            _CACHE.used.add(key)
            return entry
    names = table_names(text)
    found = None if names is None else [list(name.parts) for name in names]
    if _CACHE.active:
        _CACHE.entries[key] = found
        _CACHE.used.add(key)
        _CACHE.dirty = True
    return found


def sql_dependencies(sql: str, assets: Collection[str], catalog: str) -> list[str]:
    """The assets among ``assets`` whose tables ``sql`` reads, in their declared spelling.

    ``catalog`` is the warehouse's catalog name (:func:`catalog_of`). Placeholders are read as
    ``NULL`` (the run binds them as parameters; either way they are values, not names). SQL
    that DuckDB cannot parse reads nothing here; running it reports the syntax error.
    """
    parts = _table_parts(_PLACEHOLDER.sub("NULL", sql))
    by_lower = {asset.lower(): asset for asset in assets}
    found = {by_lower.get(TableName(tuple(p), None).table_in(catalog) or "") for p in parts or []}
    return sorted(asset for asset in found if asset is not None)
