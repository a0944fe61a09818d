"""What a SQL asset reads, found when the project loads, and refused there when it is wrong.

Each table name DuckDB's parser finds (:mod:`assetflow.sql.names`) in a SQL asset's query is
one of:

- a definition of the project (an asset or a source): a dependency;
- a table the SQL made itself earlier, a CTE (neither is reported by the parser), one of
  DuckDB's own catalog views (``information_schema.tables``, ``pg_class``, ``duckdb_tables``),
  a file read by name (``'data/orders.csv'``) or a declared ``external`` table (``[project]``
  or the asset's own ``[assets.NAME]``): known, and never a dependency;
- anything else: refused at load, naming the asset and the closest name, as is SQL that does
  not parse. A typo never waits for the run.

``{{ ref('x') }}`` is read as ``x`` (:mod:`assetflow.sql.template`). Names compare
case-insensitively; ``a.t`` is schema ``a`` of the warehouse's catalog or catalog ``a``'s
``main`` schema, as DuckDB reads it (:class:`~assetflow.sql.names.TableName`).

What the parser found is kept between loads in a small file next to the state
(:func:`parse_cache`), the syntax error of unparsable SQL included: a project whose SQL did not
change loads without importing DuckDB, and refuses the same SQL every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from assetflow.cache_files import write_atomically
from assetflow.errors import DefinitionError, did_you_mean
from assetflow.sql.names import TableName, is_system_name, parse_sql, split_table_name
from assetflow.sql.template import for_parsing

# A one-part name with one of these is a file DuckDB reads by name ('data/orders.csv').
_FILE_CHARACTERS = "./\\:*"


@dataclass(frozen=True)
class SqlReads:
    """The tables one SQL text reads: ``deps`` (definitions, in their declared spelling, sorted),
    ``unknown`` (names as written, in order), or the ``error`` DuckDB's parser reported."""

    deps: list[str]
    unknown: list[str]
    error: str | None = None


def sql_reads(
    sql: str,
    definitions: Collection[str],
    catalog: str,
    external: Iterable[tuple[str, ...]] = (),
) -> SqlReads:
    """What ``sql`` reads, given the project's ``definitions``, the warehouse's ``catalog``
    (:func:`~assetflow.sql.names.catalog_of`) and the ``external`` table names (their parts)."""
    entry = _parse(for_parsing(sql))
    if "error" in entry:
        return SqlReads([], [], _located(str(entry["error"]), entry.get("at"), sql))
    by_lower = {name.lower(): name for name in definitions}
    externals = [_resolutions(parts, catalog) for parts in external]
    system = set(entry["system"])
    deps: set[str] = set()
    unknown: dict[str, None] = {}
    for index, parts in enumerate(entry["tables"]):
        table = TableName(tuple(parts), None).table_in(catalog)
        if table in by_lower:
            deps.add(by_lower[table])
        elif not (
            index in system
            or (len(parts) == 1 and any(char in parts[0] for char in _FILE_CHARACTERS))
            or any(_resolutions(parts, catalog) & known for known in externals)
        ):
            unknown.setdefault(".".join(parts), None)
    return SqlReads(sorted(deps), list(unknown))


def sql_dependencies(sql: str, assets: Collection[str], catalog: str) -> list[str]:
    """The assets among ``assets`` whose tables ``sql`` reads, in their declared spelling."""
    return sql_reads(sql, assets, catalog).deps


def _resolutions(parts: Iterable[str], catalog: str) -> set[tuple[str, ...]]:
    """The ``(catalog, schema, table)`` a name may be, lowercased, as DuckDB reads it."""
    lowered = [part.lower() for part in parts]
    if len(lowered) == 1:
        return {(catalog.lower(), "main", lowered[0])}
    if len(lowered) == 2:
        return {(catalog.lower(), *lowered), (lowered[0], "main", lowered[1])}
    return {tuple(lowered)}


def _located(message: str, at: object, sql: str) -> str:
    """``message`` with the line and column of byte offset ``at`` in ``sql``, if known."""
    data = sql.encode()
    if not isinstance(at, int) or not 0 <= at <= len(data):
        return message
    line_start = data.rfind(b"\n", 0, at) + 1
    line = data.count(b"\n", 0, at) + 1
    column = len(data[line_start:at].decode("utf-8", "replace")) + 1
    return f"{message} (line {line}, column {column} of its SQL)"


# -- refusals at load --------------------------------------------------------------------------


def external_names(
    where: str, names: Iterable[str], definitions: Collection[str], catalog: str
) -> dict[str, tuple[str, ...]]:
    """Each declared external name, as written, and its parts (``where`` names the key).

    An external table is never a dependency, so one that names a definition of the project is
    a contradiction, refused.
    """
    result = {}
    by_lower = {name.lower(): name for name in definitions}
    for name in names:
        parts = split_table_name(name)
        if parts is None:  # pragma: no cover - the config validated it
            raise DefinitionError(f"{where}: {name!r} is not a table name")
        table = TableName(parts, None).table_in(catalog)
        if table in by_lower:
            raise DefinitionError(
                f"{where}: {name!r} is an asset of this project ('{by_lower[table]}'), not an "
                "external table; remove it from external"
            )
        result[name] = parts
    return result


def checked_reads(
    file: str,
    asset: str,
    sql: str,
    definitions: Collection[str],
    catalog: str,
    external: dict[str, tuple[str, ...]],
) -> list[str]:
    """The definitions the SQL of ``asset`` reads; a :class:`DefinitionError` if it does not
    parse or names an unknown table. ``file`` is the config's name; ``external`` maps the
    declared external names as written to their parts."""
    where = f"{file}: assets.{asset}"
    reads = sql_reads(sql, definitions, catalog, external.values())
    if reads.error is not None:
        raise DefinitionError(f"{where}: its SQL does not parse: {reads.error}")
    if not reads.unknown:
        return reads.deps
    shown, *others = reads.unknown
    candidates = [name for name in [*definitions, *external] if name != asset]
    hint = did_you_mean(shown, candidates) or did_you_mean(shown.split(".")[-1], candidates)
    if not hint:
        declared = ", ".join(json.dumps(name) for name in reads.unknown)
        hint = (
            f"; if another system makes it, declare it: external = [{declared}] in [assets.{asset}]"
        )
    also = "; also unknown: " + ", ".join(f"'{name}'" for name in others) if others else ""
    raise DefinitionError(
        f"{where}: unknown table '{shown}' in its SQL: not an asset, source or declared "
        f"external table{hint}{also}"
    )


# -- the parses of earlier loads -----------------------------------------------------------------


class _ParseCache:
    """What the parser found per SQL text (by digest), kept between loads while active."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
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
    return f"assetflow-sql-names-2-duckdb-{version}"


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


def _valid(entry: object) -> bool:
    """Whether a cached entry has one of the two shapes :func:`_parse` writes."""
    if not isinstance(entry, dict):
        return False
    if "error" in entry:
        return isinstance(entry["error"], str) and (
            entry.get("at") is None or isinstance(entry.get("at"), int)
        )
    tables, system = entry.get("tables"), entry.get("system")
    return (
        isinstance(tables, list)
        and all(
            isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts)
            for parts in tables
        )
        and isinstance(system, list)
        and all(isinstance(index, int) for index in system)
    )


def _parse(text: str) -> dict[str, Any]:
    """``{"tables": [parts...], "system": [indexes of DuckDB's own views]}`` for the tables
    ``text`` reads, or ``{"error": message, "at": byte offset}``; from the cache if active."""
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    if _CACHE.active and _valid(_CACHE.entries.get(key)):
        _CACHE.used.add(key)
        cached: dict[str, Any] = _CACHE.entries[key]
        return cached
    parsed = parse_sql(text)
    entry: dict[str, Any]
    if parsed.error is not None:
        entry = {"error": parsed.error, "at": parsed.error_at}
    else:
        tables = [list(name.parts) for name in parsed.names if not name.column]
        system = [i for i, parts in enumerate(tables) if is_system_name(tuple(parts))]
        entry = {"tables": tables, "system": system}
    if _CACHE.active:
        _CACHE.entries[key] = entry
        _CACHE.used.add(key)
        _CACHE.dirty = True
    return entry
