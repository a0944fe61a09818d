"""Data quality checks on a partition's data: write, audit, publish.

Inside a step the checks run on the value the asset just returned, *before* the IO manager
stores it: a failed blocking check fails the step (error ``check_failed: NAME``) and the
partition's previous data stays in place untouched; a failed non-blocking check is recorded as
a warning and the data is published. ``assetflow check`` runs the same checks on stored data.

A value that can be read only once (an Arrow stream, a DuckDB relation whose query is not
deterministic) is read into an Arrow table first, so that the checks and the store see the
same rows.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from assetflow.definitions.assets import AssetDef
from assetflow.definitions.checks import CheckDef, CheckResult
from assetflow.definitions.context import Output
from assetflow.io.staging import StagedRows
from assetflow.io.values import registered
from assetflow.records import CheckRecord, utcnow
from assetflow.runner.builtin_checks import figure_sql, run_builtin, verdict

__all__ = [
    "CheckFailed",
    "StagedValue",
    "audit",
    "audit_staged",
    "evaluate_checks",
    "outcome_of",
    "stage",
]


class CheckFailed(Exception):
    """A blocking check failed: the step fails and the new data is not stored."""

    def __init__(self, failed: Sequence[CheckRecord], records: Sequence[CheckRecord]) -> None:
        self.failed = tuple(failed)
        self.records = tuple(records)  # every check's result, recorded with the failure
        details = "; ".join(_describe(record) for record in failed)
        super().__init__(details)


def _describe(record: CheckRecord) -> str:
    detail = outcome_of(record)
    return f"check_failed: {record.check_name}" + (f" ({detail})" if detail else "")


def outcome_of(record: CheckRecord) -> str:
    """What a check found, in a few words: its error or its metadata."""
    return record.error or ", ".join(f"{k}={v}" for k, v in sorted(record.metadata.items()))


@dataclass(frozen=True)
class StagedValue:
    """The value to store (same type as returned, Output kept) and its data for the checks."""

    to_store: Any
    data: Any  # None when the asset returned nothing to check


def stage(value: Any) -> StagedValue:
    """Make ``value`` safe to read twice (checks, then the store)."""
    inner = value.value if isinstance(value, Output) else value
    if inner is None:
        return StagedValue(value, None)
    readable = _read_once(inner)
    if readable is inner:
        return StagedValue(value, inner)
    staged = replace(value, value=readable) if isinstance(value, Output) else readable
    return StagedValue(staged, readable)


def _read_once(inner: Any) -> Any:
    if isinstance(inner, duckdb.DuckDBPyRelation):
        return arrow_table(inner)  # evaluated once, here
    import sys

    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(inner, pa.RecordBatchReader):
        return inner.read_all()
    return inner


def arrow_table(relation: duckdb.DuckDBPyRelation) -> Any:
    """The relation's rows as one Arrow table (``arrow()`` gives a one-shot reader in DuckDB
    2.x and a table before)."""
    result = relation.arrow()
    read_all = getattr(result, "read_all", None)
    return read_all() if read_all is not None else result


def audit(
    checks: Sequence[CheckDef],
    definition: AssetDef,
    partition: str,
    value: Any,
    con: duckdb.DuckDBPyConnection,
    materialization_id: int,
    run_id: str,
) -> tuple[Any, list[CheckRecord]]:
    """Run a step's checks on the value before it is stored (write, audit, publish).

    Returns the value to store and the check results; raises CheckFailed when a blocking
    check fails, so that nothing is stored.
    """
    if not checks:
        return value, []
    staged = stage(value)
    if staged.data is None:  # nothing returned: nothing new to check
        return staged.to_store, []
    records = evaluate_checks(
        checks,
        definition,
        partition,
        staged.data,
        con,
        materialization_id=materialization_id,
        run_id=run_id,
    )
    blocking = [r for r in records if r.blocking and not r.passed]
    if blocking:
        raise CheckFailed(blocking, records)
    return staged.to_store, records


def evaluate_checks(
    checks: Sequence[CheckDef],
    definition: AssetDef,
    partition: str,
    data: Any,
    con: duckdb.DuckDBPyConnection,
    *,
    materialization_id: int | None,
    run_id: str | None,
) -> list[CheckRecord]:
    """Run ``checks`` on ``data`` (one partition of ``definition``); one record per check.

    A check that raises is a failed check whose ``error`` says why; it never escapes.
    """
    records: list[CheckRecord] = []
    # Their own cursor: a check may leave a result half read, which would block the store.
    con = con.cursor()
    try:
        records = _evaluate_on(con, checks, definition, partition, data, materialization_id, run_id)
    finally:
        con.close()
    return records


def _evaluate_on(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[CheckDef],
    definition: AssetDef,
    partition: str,
    data: Any,
    materialization_id: int | None,
    run_id: str | None,
) -> list[CheckRecord]:
    records: list[CheckRecord] = []
    with registered(con, data, definition, partition) as name:
        relation = _relation_for_checks(con.sql(f"SELECT * FROM {name}"))
        for check_def in checks:
            outcome = _run_one(check_def, relation, name, con)
            records.append(_record(check_def, partition, outcome, materialization_id, run_id))
    return records


def _record(
    check_def: CheckDef,
    partition: str,
    outcome: tuple[bool, dict[str, Any], str | None],
    materialization_id: int | None,
    run_id: str | None,
) -> CheckRecord:
    passed, metadata, error = outcome
    return CheckRecord(
        asset=check_def.asset,
        partition=partition,
        check_name=check_def.name,
        blocking=check_def.blocking,
        passed=passed,
        checked_at=utcnow(),
        materialization_id=materialization_id,
        run_id=run_id,
        metadata=metadata,
        error=error,
        description=check_def.description or (check_def.builtin.text if check_def.builtin else ""),
    )


def audit_staged(
    checks: Sequence[CheckDef],
    definition: AssetDef,
    partition: str,
    rows: StagedRows,
    materialization_id: int,
    run_id: str,
) -> list[CheckRecord]:
    """Run a step's checks on its staged rows (write, audit, publish), in declared order.

    The built-in checks' figures come from the one aggregate query that also fingerprints the
    rows; a Python check gets the rows as before, read once into Arrow (only if there is one).
    Raises CheckFailed when a blocking check fails, so that nothing is stored.
    """
    if not checks:
        return []
    found: dict[int, CheckRecord] = {}
    builtins = [(i, c) for i, c in enumerate(checks) if c.builtin is not None]
    for i, outcome in _builtins_at_once(builtins, rows).items():
        found[i] = _record(checks[i], partition, outcome, materialization_id, run_id)
    functions = [(i, c) for i, c in enumerate(checks) if c.builtin is None]
    if functions:
        data = arrow_table(rows.con.sql(f"SELECT * FROM {rows.name}"))
        checked = evaluate_checks(
            [c for _, c in functions],
            definition,
            partition,
            data,
            rows.con,
            materialization_id=materialization_id,
            run_id=run_id,
        )
        found.update(zip((i for i, _ in functions), checked, strict=True))
    records = [found[i] for i in range(len(checks))]
    blocking = [r for r in records if r.blocking and not r.passed]
    if blocking:
        raise CheckFailed(blocking, records)
    return records


def _builtins_at_once(
    builtins: list[tuple[int, CheckDef]], rows: StagedRows
) -> dict[int, tuple[bool, dict[str, Any], str | None]]:
    """Every built-in check's outcome from one aggregate query; one by one if it fails."""
    outcomes: dict[int, tuple[bool, dict[str, Any], str | None]] = {}
    if not builtins:
        return outcomes
    try:
        expressions: list[str] = []
        params: dict[str, Any] = {}
        for i, check_def in builtins:
            assert check_def.builtin is not None
            expression, values = figure_sql(check_def.builtin, rows.name, f"check_{i}")
            expressions.append(expression)
            params.update(values)
        figures = rows.aggregate(expressions, params)
        for (i, check_def), figure in zip(builtins, figures, strict=True):
            assert check_def.builtin is not None
            outcomes[i] = (*verdict(check_def.builtin, figure, rows.name, rows.con), None)
    except Exception:  # each check on its own says which one failed, and why
        outcomes = {i: _run_one(check_def, None, rows.name, rows.con) for i, check_def in builtins}
    return outcomes


def _relation_for_checks(relation: duckdb.DuckDBPyRelation) -> Any:
    """The relation a check function receives: DuckDB's own, or, with a DuckDB whose
    relations dropped ``fetchone()`` (2.x), one that still has it (the documented idiom
    ``orders.filter(...).count("*").fetchone()[0]`` keeps working)."""
    try:
        relation.fetchone  # noqa: B018 (probing the API)
    except AttributeError:
        return _FetchingRelation(relation)
    return relation


class _FetchingRelation:
    """A DuckDB relation with ``fetchone()``; relations derived from it keep it too."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._relation.limit(1).fetchall()
        return rows[0] if rows else None

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._relation, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(a._relation if isinstance(a, _FetchingRelation) else a for a in args)
            result = found(*args, **kwargs)
            if isinstance(result, duckdb.DuckDBPyRelation):
                return _FetchingRelation(result)
            return result

        return call

    def __repr__(self) -> str:
        return repr(self._relation)


def _run_one(
    check_def: CheckDef, relation: Any, name: str, con: Any
) -> tuple[bool, dict[str, Any], str | None]:
    try:
        if check_def.builtin is not None:
            return (*run_builtin(check_def.builtin, name, con), None)
        assert check_def.fn is not None
        outcome = check_def.fn(relation)
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        return False, {}, f"{type(exc).__name__}: {exc}{where}"
    if isinstance(outcome, CheckResult):
        return bool(outcome.passed), dict(outcome.metadata), None
    if isinstance(outcome, bool):
        return outcome, {}, None
    kind = type(outcome).__name__
    return False, {}, f"returned {kind}; a check returns a bool or a CheckResult"
