"""Every way DuckDB lets SQL name an asset's table is a dependency and reads the mapped slice.

``orders``, ``"orders"``, ``ORDERS``, ``main.orders``, ``warehouse.orders``,
``warehouse.main.orders``, ``"main"."orders"``, ``"order"`` for an asset named like a keyword, in
CTEs, subqueries, joins and ``IN (...)``: each resolves to the asset, and a run reads exactly its
mapped partitions. A CTE of the asset's name hides it from unqualified names; names in strings
and comments are not names.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_HEADER, ProjectFactory, run_cli, run_python
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow import Project
from assetflow.definitions.assets import AssetDef, build_sql_asset
from assetflow.io import DuckDBIOManager, Warehouse
from assetflow.io.sql import run_sql_asset
from assetflow.partitions.core import DailyPartitions
from assetflow.sql.names import TableName, catalog_of, name_spans
from assetflow.sql.reads import sql_dependencies

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")
JAN_2 = (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
OTHER = "other_asset"
ORDERS = AssetDef(name="orders", partitions=DAYS)

with duckdb.connect() as _con:
    KEYWORDS = {row[0] for row in _con.sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()}
RESERVED = sorted(
    {"order", "select", "from", "group", "table", "limit", "with", "where", "union", "on", "as"}
)

# -- generated names ----------------------------------------------------------------------------

asset_names = st.sampled_from(RESERVED) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True
)
# A few catalogs: the stem of the warehouse file is the catalog.
catalogs = st.sampled_from(["warehouse", "wh", "Lake_2"])
gaps = st.sampled_from(["", "", " ", "\n  ", " /* a.b */ ", " -- note\n"])


@st.composite
def spelled(draw: st.DrawFn, name: str) -> str:
    """``name`` as SQL may write it: quoted or not (if it may be), in some case."""
    cased = draw(st.sampled_from([name, name.lower(), name.upper(), name.swapcase()]))
    must_quote = name.lower() in KEYWORDS or not name.isascii()
    if must_quote or draw(st.booleans()):
        return '"' + cased.replace('"', '""') + '"'
    return cased


@st.composite
def table_references(draw: st.DrawFn, name: str, catalog: str) -> str:
    """One of the ways DuckDB lets SQL name table ``name`` of ``catalog.main``."""
    qualifiers = draw(st.sampled_from([[], ["main"], [catalog], [catalog, "main"]]))
    if not qualifiers and draw(st.integers(0, 5)) == 0:
        return f"'{name}'"  # DuckDB reads a string in FROM as a table name too
    parts = [draw(spelled(part)) for part in [*qualifiers, name]]
    text = parts[0]
    for part in parts[1:]:
        text += draw(gaps) + "." + draw(gaps) + part
    return text


# Each reads `ref` and counts the distinct values of `i`: the slice of one day has 2.
CONTEXTS = [
    "select count(*) as n from {ref}",
    "select count(*) as n from {ref} as t",
    "from {ref} select count(*) as n",
    "with x as (select * from {ref}) select count(*) as n from x",
    "select count(*) as n from (select * from {ref}) s",
    "select count(*) as n from (select 1 as one) a join {ref} t on true",
    "select count(*) as n from (select 1 as one) a, {ref}",
    "select (select count(*) from {ref}) as n",
    "select count(*) as n from range(100) r(i) where i in (select i from {ref})",
    "select count(*) as n from (select * from {ref} union all select * from {ref} where false)",
    "select count(*) as n from {ref} where i is not null and exists (select 1 from {ref})",
    # The column qualified with the table's own spelling (catalog and all).
    "select count({same}.i) as n from {same}",
]
# Mentions of another asset that are not table names.
NOISE = [
    "",
    "-- from {other}\n",
    "/* select * from {other} */ ",
    "select 'from {other}' as s;\n",
]


def store_days(warehouse: Warehouse, name: str) -> None:
    """Asset ``name``: day d holds d rows with distinct values of i (1+2+3 rows in all)."""
    manager = DuckDBIOManager(warehouse)
    con = warehouse.cursor()
    try:
        for day in (1, 2, 3):
            value = con.sql(f"SELECT {day * 10} + range AS i FROM range({day})")
            manager.store(AssetDef(name=name, partitions=DAYS), f"2024-01-0{day}", value, con)
    finally:
        warehouse.release(con)


def read_count(warehouse: Warehouse, name: str, sql: str, key: str = "2024-01-02") -> object:
    """What SQL asset ``reader`` computes for ``key``, reading ``name`` restricted to ``key``."""
    manager = DuckDBIOManager(warehouse)
    con = warehouse.cursor()
    try:
        upstream = AssetDef(name=name, partitions=DAYS)
        inputs = {name: manager.load(upstream, [key], con)}
        reader = build_sql_asset("reader", sql, partitions=DAYS)
        return run_sql_asset(con, reader, key, JAN_2, inputs).fetchall()[-1][0]
    finally:
        warehouse.release(con)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), name=asset_names, catalog=catalogs)
def test_every_naming_form_is_a_dependency_and_reads_the_slice(
    data: st.DataObject, name: str, catalog: str
) -> None:
    if name.lower() == OTHER:
        return
    context = data.draw(st.sampled_from(CONTEXTS))
    if "{same}" in context:
        same = data.draw(table_references(name, catalog).filter(lambda ref: ref[0] != "'"))
        context = context.replace("{same}", same)
    pieces = context.split("{ref}")
    sql = data.draw(st.sampled_from(NOISE)).format(other=OTHER) + pieces[0]
    for piece in pieces[1:]:  # each occurrence spelled its own way
        sql += data.draw(table_references(name, catalog)) + piece
    assert sql_dependencies(sql, [name, OTHER, "reader"], catalog) == [name], sql
    with (
        tempfile.TemporaryDirectory() as folder,
        Warehouse(Path(folder) / f"{catalog}.duckdb") as warehouse,
    ):
        store_days(warehouse, name)
        assert read_count(warehouse, name, sql) == 2, sql


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=asset_names)
def test_a_cte_of_the_same_name_hides_the_asset_from_unqualified_names(
    data: st.DataObject, name: str
) -> None:
    cte = data.draw(spelled(name))
    bare = data.draw(spelled(name))
    hidden = f"with {cte} as (select 99 as i) select count(*) as n from {bare}"
    assert sql_dependencies(hidden, [name], "warehouse") == []
    # Qualified names are not CTE names; nor is the CTE's own name inside its body.
    qualified = f"with {cte} as (select 99 as i) select count(*) as n from main.{bare}"
    own_body = f"with {cte} as (select * from {bare}) select count(*) as n from {bare}"
    later = f"with first_cte as (select * from {bare}), {cte} as (select 99 as i) table first_cte"
    for sql in (qualified, own_body, later):
        assert sql_dependencies(sql, [name], "warehouse") == [name], sql
    with (
        tempfile.TemporaryDirectory() as folder,
        Warehouse(Path(folder) / "warehouse.duckdb") as warehouse,
    ):
        store_days(warehouse, name)
        assert read_count(warehouse, name, hidden) == 1
        assert read_count(warehouse, name, qualified) == 2
        assert read_count(warehouse, name, own_body) == 2


def test_names_in_strings_comments_other_catalogs_and_schemas_are_not_dependencies() -> None:
    assets = ["orders", "order", "customers"]
    sql = """
    -- from customers
    select 'from "order"' as s, /* join customers */ count(*)
    from other_db.main.orders, raw.orders, read_parquet('customers.parquet')
    """
    assert sql_dependencies(sql, assets, "warehouse") == []
    recursive = """
    with recursive orders as (select 1 as n union all select n + 1 from orders where n < 3)
    select * from orders join customers on true
    """
    assert sql_dependencies(recursive, assets, "warehouse") == ["customers"]
    # Unparsable SQL names nothing here (the loader refuses it: see test_sql_load.py).
    assert sql_dependencies("selec * from orders", assets, "warehouse") == []


def test_statements_duckdb_cannot_serialize_are_read_as_subqueries(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "warehouse.duckdb") as warehouse:
        store_days(warehouse, "orders")
        pivot = "pivot warehouse.main.orders on i in (20, 21) using count(*)"
        assert sql_dependencies(pivot, ["orders"], "warehouse") == ["orders"]
        con = warehouse.cursor()
        try:
            inputs = {"orders": DuckDBIOManager(warehouse).load(ORDERS, ["2024-01-02"], con)}
            reader = build_sql_asset("reader", pivot, partitions=DAYS)
            assert run_sql_asset(con, reader, "2024-01-02", JAN_2, inputs).fetchall() == [(1, 1)]
            # After a statement that is no query, with a position to shift past the first one.
            both = "set threads = 1; /* é */ select count(*) as n from warehouse.main.orders"
            assert sql_dependencies(both, ["orders"], "warehouse") == ["orders"]
            reader = build_sql_asset("reader", both, partitions=DAYS)
            assert run_sql_asset(con, reader, "2024-01-02", JAN_2, inputs).fetchall() == [(2,)]
            summary = build_sql_asset("s", "summarize warehouse.main.orders", partitions=DAYS)
            rows = run_sql_asset(con, summary, "2024-01-02", JAN_2, inputs).fetchall()
            assert [row[0] for row in rows] == ["i"]
            assert rows[0][-2] == 2  # count: the day's two rows, not all six
        finally:
            warehouse.release(con)


@pytest.mark.parametrize(
    "path",
    ["warehouse.duckdb", "wh", "a.b.duckdb", ".hidden.duckdb", "My Lake.db", "main.duckdb"],
)
def test_catalog_of_a_file_is_what_duckdb_calls_it(tmp_path: Path, path: str) -> None:
    with duckdb.connect(tmp_path / path) as con:
        assert catalog_of(tmp_path / path) == con.sql("SELECT current_database()").fetchall()[0][0]
    assert catalog_of(":memory:") == "memory"


# -- through the loader and the CLI ---------------------------------------------------------------

PIPELINE = """
from assetflow import asset, DailyPartitions

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")

@asset(partitions=DAYS)
def orders(context):
    day = int(context.partition_key[-2:])
    return context.warehouse.sql(f"select {day * 10} + range as i from range({day})")

@asset(partitions=DAYS)
def order(context):
    day = int(context.partition_key[-2:])
    return context.warehouse.sql(f"select {day} as i")
"""


def sql_table(name: str, sql: str) -> str:
    return (
        f'[assets.{name}]\nsql = """\n{sql}\n"""\n'
        'partitions = { daily = { start = "2024-01-01", end = "2024-01-04" } }\n'
    )


READERS = {
    "by_catalog": "select count(*) as n from lake.main.orders",
    "by_catalog_only": 'select count(*) as n from "LAKE"."ORDERS"',
    "by_keyword": 'select count(*) as n from "order"',
    "by_main": "select count(*) as n from main . orders",
    "in_subquery": "select count(*) as n from range(100) r(i) where i in (from Lake.Main.Orders)",
}
TOML = (
    PROJECT_HEADER
    + '[storage]\nwarehouse = "data/lake.duckdb"\n\n'
    + "\n".join(sql_table(name, sql) for name, sql in READERS.items())
)


@pytest.mark.usefixtures("clean_imports")
def test_loader_finds_every_naming_form(make_project: ProjectFactory) -> None:
    project = Project.load(make_project(TOML, pipeline=PIPELINE))
    deps = {name: list(project.asset(name).dep_names) for name in READERS}
    assert deps == {
        "by_catalog": ["orders"],
        "by_catalog_only": ["orders"],
        "by_keyword": ["order"],
        "by_main": ["orders"],
        "in_subquery": ["orders"],
    }


def test_materialize_reads_only_the_mapped_partitions(make_project: ProjectFactory) -> None:
    root = make_project(TOML, pipeline=PIPELINE)
    code, _, err = run_cli(["materialize", "*"], root, timeout=120)
    assert code == 0, err
    with duckdb.connect(root / "data" / "lake.duckdb", read_only=True) as con:
        for name in READERS:
            rows = con.sql(f"select _partition, n from {name} order by _partition").fetchall()
            expected = 1 if name == "by_keyword" else None
            counts = [n for _, n in rows]
            if expected is None:
                assert counts == [1, 2, 3], (name, rows)
            else:
                assert counts == [1, 1, 1], (name, rows)


def test_a_second_load_reuses_the_parse_without_duckdb(make_project: ProjectFactory) -> None:
    root = make_project(TOML, pipeline=PIPELINE)
    (root / ".assetflow").mkdir()
    code = (
        "import sys\n"
        "from assetflow import Project\n"
        "project = Project.load('.')\n"
        "print(sorted(project.asset('by_keyword').dep_names), 'duckdb' in sys.modules)\n"
    )
    first = run_python(code, root)
    assert first[0] == 0, first[2]
    assert first[1].split() == ["['order']", "True"]
    assert (root / ".assetflow" / "sql_names.json").is_file()
    second = run_python(code, root)
    assert second[1].split() == ["['order']", "False"]
    # Another query is parsed again.
    toml = (root / "assets.toml").read_text().replace('from "order"', "from orders")
    (root / "assets.toml").write_text(toml)
    third = run_python(code, root)
    assert third[1].split() == ["['orders']", "True"]


def test_from_join_comma_lists_subqueries_and_ctes() -> None:
    """(Moved from the text scanner's test, which DuckDB's parser replaces.)"""
    sql = """
    with recent as (select * from orders where order_date = {{ partition_key }}),
         big as (select * from recent where amount > 100)
    select * from big b
    join customers as c on c.id = b.customer_id
    left join main.products p using (product_id), regions r
    where exists (select 1 from refunds)
    """
    assets = ["orders", "customers", "products", "regions", "refunds", "recent", "big", "b"]
    assert sql_dependencies(sql, assets, "warehouse") == [
        "customers",
        "orders",
        "products",
        "refunds",
        "regions",
    ]


def test_names_without_a_position_are_found_among_the_tokens_or_refused() -> None:
    text = 'summarize /* warehouse.main.orders */ "Warehouse" . main.orders'
    name = TableName(("warehouse", "main", "orders"), None)
    start = len("summarize /* warehouse.main.orders */ ")
    assert name_spans(text, [name]) == [(start, len(text), ("Warehouse", "main", "orders"))]
    # Found once but named twice: no guess (the run then fails naming the table).
    assert name_spans(text, [name, name]) is None
