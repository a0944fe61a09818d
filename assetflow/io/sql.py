"""SQL assets: run an asset's SQL on the step's cursor, upstream names shadowed by its inputs.

Each upstream asset's name becomes a TEMP view of exactly the mapped partitions. TEMP views belong
to the cursor that creates them and resolve before the warehouse's own tables (even before
``main.name``), so the SQL's ``FROM orders`` reads the slice while other steps' cursors keep
seeing the whole table. A name that spells out the warehouse's catalog (``warehouse.orders``,
``warehouse.main.orders``) would reach past the view, so it is pointed at the view
(``temp.main.orders``) first. :mod:`assetflow.sql.names` finds the names with DuckDB's parser,
and turns the same names into an asset's dependencies, so what the loader finds is what the run
restricts. ``{{ partition_key }}``, ``{{ start }}`` and ``{{ end }}`` become bound parameters
(``$partition_key`` ...), never text spliced into the SQL; ``{{ ref('x') }}`` is the name ``x``.

DuckDB relations are lazy SQL text, read again on every use, and the views are dropped before
this returns; so the result is materialized first, and the relation returned reads those rows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.io.base import PARTITION_COLUMN, OutputError
from assetflow.io.warehouse import (
    current_catalog,
    qualified_table,
    quote_identifier,
    table_columns,
)
from assetflow.sql.names import TableName, name_spans, references, replace_spans

# Each placeholder and the SQL type its value is bound as (also when it is NULL).
PLACEHOLDERS: dict[str, str] = {
    "partition_key": "VARCHAR",
    "start": "TIMESTAMPTZ",
    "end": "TIMESTAMPTZ",
}

_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<identifier>"(?:[^"]|"")*")
  | (?P<placeholder>\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\})
  | (?P<ref>\{\{\s*ref\s*\(\s*(?P<quote>['"])(?P<ref_name>[^'"\n]+)(?P=quote)\s*\)\s*\}\})
  | (?P<template>\{\{|\{%)
  | (?P<other>[^'"{/-]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_sql(sql: str, asset_name: str) -> tuple[str, list[str]]:
    """The SQL with each placeholder turned into a typed parameter, and the names used.

    ``{{ ref('x') }}`` becomes the quoted name ``"x"``, which finds the TEMP view of the mapped
    partitions like ``x`` does. Placeholders inside comments are ignored. One inside a string
    literal would not be bound, so that is an OutputError, as is an unknown placeholder or other
    template syntax.
    """
    parts: list[str] = []
    used: dict[str, None] = {}
    unknown: dict[str, None] = {}
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "placeholder":
            name = match.group("name")
            if name not in PLACEHOLDERS:
                unknown.setdefault(name, None)
                continue
            used.setdefault(name, None)
            text = f"CAST(${name} AS {PLACEHOLDERS[name]})"
        elif kind == "ref":
            text = quote_identifier(match.group("ref_name"))
        elif kind == "string":
            quoted = [name for name in _PLACEHOLDER.findall(text) if name in PLACEHOLDERS]
            if quoted:
                raise OutputError(
                    f"asset '{asset_name}': the SQL puts {{{{ {quoted[0]} }}}} inside quotes "
                    f"({text}); write it without quotes: it is bound as a typed parameter"
                )
        elif kind == "template":
            raise OutputError(
                f"asset '{asset_name}': unsupported template syntax {text!r} in the SQL; only "
                + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
                + " and {{ ref('NAME') }} are replaced"
            )
        parts.append(text)
    if unknown:
        raise OutputError(
            f"asset '{asset_name}': unknown placeholder(s) "
            + ", ".join(f"{{{{ {name} }}}}" for name in unknown)
            + " in the SQL; the known ones are "
            + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
        )
    return "".join(parts), list(used)


def point_at_views(text: str, views: Collection[str], catalog: str, asset_name: str) -> str:
    """``text`` with catalog-qualified names of ``views`` turned into ``temp.main.<name>``.

    ``views`` are the lowercased names of the TEMP views registered for the inputs; other
    spellings of them already resolve to the views. Unparsable SQL is left to DuckDB to report.
    """
    names = references(text)
    if not names:
        return text
    targets = [
        n for n in names if not n.column and n.names_catalog() and n.table_in(catalog) in views
    ]
    if not targets:
        return text
    # A column qualified with one of those names (``warehouse.main.orders.amount``) is renamed
    # with it, or it would no longer bind.
    renamed = {tuple(part.lower() for part in n.parts) for n in targets}
    columns = [
        TableName(n.parts[: len(prefix)], n.location)
        for n in names
        if n.column and n.location is not None
        for prefix in renamed
        if len(n.parts) > len(prefix) and tuple(p.lower() for p in n.parts[: len(prefix)]) == prefix
    ]
    spans = name_spans(text, targets + columns)
    if spans is None:
        tables = ", ".join(sorted({".".join(n.parts) for n in targets}))
        raise OutputError(
            f"asset '{asset_name}': cannot restrict {tables} to the mapped partitions in its "
            "SQL; name the table without its catalog"
        )
    return replace_spans(
        text,
        [(start, end, f"temp.main.{quote_identifier(parts[-1])}") for start, end, parts in spans],
    )


def _empty_slice(con: duckdb.DuckDBPyConnection, name: str) -> duckdb.DuckDBPyRelation | None:
    """No rows, with the columns of the upstream's assetflow table; ``None`` without one.

    An input is None when its mapped partitions lie outside the upstream's definition; the SQL
    must then see no rows, not the whole stored table. An upstream without an assetflow table
    (io 'none' or 'parquet') leaves its name to whatever the warehouse has under it.
    """
    catalog = current_catalog(con)
    found = table_columns(con, catalog, name)
    if found is None or found[0] != name:
        return None
    if PARTITION_COLUMN not in (column for column, _ in found[1]):
        return None
    table = qualified_table(catalog, name)
    partition = quote_identifier(PARTITION_COLUMN)
    return con.sql(f"SELECT * EXCLUDE ({partition}) FROM {table} WHERE false")


def run_sql_asset(
    con: duckdb.DuckDBPyConnection,
    asset_def: AssetDef,
    partition_key: str,
    time_window: tuple[datetime, datetime] | None,
    inputs: Mapping[str, duckdb.DuckDBPyRelation | None],
    catalog: str | None = None,
) -> duckdb.DuckDBPyRelation:
    """Run a SQL asset's query for one partition and return its rows.

    ``inputs`` maps each upstream asset name to its loaded slice (or ``None``). ``start`` and
    ``end`` are the time window as TIMESTAMPTZ, NULL for partitions without one. ``catalog``
    is ``con``'s database if the caller knows it (one query less per step). A SQL error
    propagates as DuckDB raised it.
    """
    if asset_def.sql is None:
        raise OutputError(f"asset '{asset_def.name}' has no SQL to run")
    text, used = render_sql(asset_def.sql, asset_def.name)
    values: dict[str, object] = {
        "partition_key": partition_key,
        "start": time_window[0] if time_window else None,
        "end": time_window[1] if time_window else None,
    }
    params = {name: values[name] for name in used}
    views: list[str] = []
    try:
        for name, relation in inputs.items():
            view = relation if relation is not None else _empty_slice(con, name)
            if view is not None:
                con.register(name, view)
                views.append(name)
        if views:
            lowered = {name.lower() for name in views}
            text = point_at_views(text, lowered, catalog or current_catalog(con), asset_def.name)
        result = con.sql(text, params=params or None)
        if result is None:
            raise OutputError(
                f"asset '{asset_def.name}': its SQL returned no result; it must be a query"
            )
        return result.materialize()
    finally:
        for name in views:
            con.unregister(name)
