"""Data versions: order-independent, duplicate-sensitive, schema-aware fingerprints."""

from __future__ import annotations

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.io import Fingerprint, fingerprint

ROW = st.tuples(
    st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.one_of(st.none(), st.text(max_size=12)),
    st.floats(allow_nan=False),
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def relation_of(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]
) -> duckdb.DuckDBPyRelation:
    columns: list[tuple[object, ...]] = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    table = pa.table(
        {
            "n": pa.array(columns[0], pa.int64()),
            "s": pa.array(columns[1], pa.string()),
            "x": pa.array(columns[2], pa.float64()),
        }
    )
    return con.from_arrow(table)


def version(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> str:
    return fingerprint(relation_of(con, rows)).data_version


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, max_size=30), data=st.data())
def test_order_does_not_matter(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(rows))
    assert version(con, rows) == version(con, shuffled)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30), data=st.data())
def test_duplicates_matter(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]], data: st.DataObject
) -> None:
    repeated = data.draw(st.sampled_from(rows))
    assert version(con, [*rows, repeated]) != version(con, rows)
    # A row added twice must not cancel out, as it would with XOR.
    assert version(con, [*rows, repeated, repeated]) != version(con, rows)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30), data=st.data())
def test_changed_content_changes_the_version(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    replacement = data.draw(ROW.filter(lambda row: row != rows[index]))
    changed = [*rows[:index], replacement, *rows[index + 1 :]]
    assert version(con, changed) != version(con, rows)


def test_schema_is_part_of_the_version(con: duckdb.DuckDBPyConnection) -> None:
    base = fingerprint(con.sql("SELECT 1::BIGINT AS a, 'x' AS b"))
    renamed = fingerprint(con.sql("SELECT 1::BIGINT AS c, 'x' AS b"))
    retyped = fingerprint(con.sql("SELECT 1::INTEGER AS a, 'x' AS b"))
    assert len({base.data_version, renamed.data_version, retyped.data_version}) == 3


def test_empty_relation(con: duckdb.DuckDBPyConnection) -> None:
    empty = fingerprint(con.sql("SELECT 1 AS a WHERE false"))
    assert empty.row_count == 0
    assert empty != fingerprint(con.sql("SELECT 2 AS b WHERE false"))


def test_fingerprint_is_stable(con: duckdb.DuckDBPyConnection) -> None:
    """A canary: if this fails after upgrading DuckDB, its hash() changed, and every asset gets a
    new data version the next time it is materialized (downstream assets then look stale)."""
    relation = con.sql(
        "SELECT range AS n, 'row ' || range AS s, range / 3 AS x, "
        "[range, NULL] AS l, {'k': range} AS st, DATE '2024-01-01' + range::INTEGER AS d "
        "FROM range(100)"
    )
    assert fingerprint(relation) == Fingerprint("031ec77b9d3fe67d", 100)
