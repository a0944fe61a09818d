"""The built-in checks (``not_null``, ``unique``, ``accepted_values``, ``row_count``) as SQL.

Each check reads a table of one partition's rows. :func:`run_builtin` runs one check with its
own queries (``assetflow check`` on stored data, and the fallback below). :func:`figure_sql`
gives a check's figure as one SQL expression over the table, so that all of a step's built-in
checks run in the single aggregate query that also fingerprints the staged rows
(:meth:`assetflow.io.staging.StagedRows.aggregate`); :func:`verdict` turns the figure into the
same result and metadata :func:`run_builtin` gives. A check whose arguments do not fit, or a
query that fails (a column that does not exist), makes the caller run the checks one by one,
so that each failure is told with its own error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assetflow.definitions.checks import BuiltinCheck

__all__ = ["figure_sql", "run_builtin", "verdict"]

Result = tuple[bool, dict[str, Any]]


def run_builtin(check: BuiltinCheck, name: str, con: Any) -> Result:
    """Run one built-in check on table ``name`` with its own queries."""
    run: Callable[..., Result] = _BUILTINS[check.kind]
    return run(con, name, *check.args, **dict(check.kwargs))


def figure_sql(check: BuiltinCheck, name: str, param: str) -> tuple[str, dict[str, Any]]:
    """One SQL expression over table ``name`` whose value decides ``check``, and the values
    of its parameters (named ``param...``, unique per check in one query)."""
    make: Callable[..., tuple[str, dict[str, Any]]] = _FIGURES[check.kind]
    return make(name, param, *check.args, **dict(check.kwargs))


def verdict(check: BuiltinCheck, figure: Any, name: str, con: Any) -> Result:
    """The result of ``check`` given its figure (from :func:`figure_sql`); a failed
    ``accepted_values`` reads its first unexpected values with one more query."""
    if check.kind == "not_null":
        return figure == 0, {"null_count": int(figure)}
    if check.kind == "unique":
        return figure == 0, {"duplicated_keys": int(figure)}
    if check.kind == "accepted_values":
        metadata: dict[str, Any] = {"unexpected_count": int(figure)}
        if figure:
            metadata["unexpected_values"] = _unexpected_values(con, name, *check.args)
        return figure == 0, metadata
    return _row_count_verdict(int(figure), **dict(check.kwargs))


def _column(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def _scalar(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


# --- one check, its own queries ------------------------------------------------------------


def _not_null(con: Any, name: str, column: str) -> Result:
    nulls = _scalar(con, f"SELECT count(*) FROM {name} WHERE {_column(column)} IS NULL")
    return nulls == 0, {"null_count": int(nulls)}


def _unique(con: Any, name: str, *columns: str) -> Result:
    duplicated = _scalar(con, _duplicated_keys(name, columns))
    return duplicated == 0, {"duplicated_keys": int(duplicated)}


def _duplicated_keys(name: str, columns: Sequence[str]) -> str:
    keys = ", ".join(_column(c) for c in columns)
    return f"SELECT count(*) FROM (SELECT {keys} FROM {name} GROUP BY ALL HAVING count(*) > 1)"


def _accepted_values(con: Any, name: str, column: str, values: Sequence[Any]) -> Result:
    unexpected = _scalar(con, _unexpected(name, column, "?"), [list(values)])
    metadata: dict[str, Any] = {"unexpected_count": int(unexpected)}
    if unexpected:
        metadata["unexpected_values"] = _unexpected_values(con, name, column, values)
    return unexpected == 0, metadata


def _unexpected(name: str, column: str, values: str) -> str:
    col = _column(column)
    return (
        f"SELECT count(*) FROM {name} WHERE {col} IS NOT NULL "
        f"AND {col} NOT IN (SELECT UNNEST({values}))"
    )


def _unexpected_values(con: Any, name: str, column: str, values: Sequence[Any]) -> list[str]:
    """The five most frequent values not accepted (most frequent first)."""
    col = _column(column)
    rows = con.execute(
        f"SELECT {col}, count(*) FROM {name} WHERE {col} IS NOT NULL"
        f" AND {col} NOT IN (SELECT UNNEST(?)) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
        [list(values)],
    ).fetchall()
    return [str(value) for value, _ in rows]


def _row_count(con: Any, name: str, min: int | None = None, max: int | None = None) -> Result:
    return _row_count_verdict(int(_scalar(con, f"SELECT count(*) FROM {name}")), min, max)


def _row_count_verdict(rows: int, min: int | None = None, max: int | None = None) -> Result:
    passed = (min is None or rows >= min) and (max is None or rows <= max)
    return passed, {"row_count": rows}


_BUILTINS: dict[str, Callable[..., Result]] = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted_values,
    "row_count": _row_count,
}


# --- one figure per check, for the shared aggregate ----------------------------------------


def _not_null_figure(name: str, param: str, column: str) -> tuple[str, dict[str, Any]]:
    return f"count(*) FILTER (WHERE {_column(column)} IS NULL)", {}


def _unique_figure(name: str, param: str, *columns: str) -> tuple[str, dict[str, Any]]:
    if not columns:
        raise TypeError("unique() needs at least one column")
    return f"({_duplicated_keys(name, columns)})", {}


def _accepted_values_figure(
    name: str, param: str, column: str, values: Sequence[Any]
) -> tuple[str, dict[str, Any]]:
    return f"({_unexpected(name, column, '$' + param)})", {param: list(values)}


def _row_count_figure(
    name: str, param: str, min: int | None = None, max: int | None = None
) -> tuple[str, dict[str, Any]]:
    return "count(*)", {}


_FIGURES: dict[str, Callable[..., tuple[str, dict[str, Any]]]] = {
    "not_null": _not_null_figure,
    "unique": _unique_figure,
    "accepted_values": _accepted_values_figure,
    "row_count": _row_count_figure,
}
