"""SQL assets are read by DuckDB's parser when the project loads, and refused there if wrong.

Every way SQL can name a table (quoted, qualified by schema or catalog, in a CTE, a subquery, a
set operation, ``{{ ref('x') }}``) resolves to the definition it names; SQL that does not parse,
and a table that is neither a definition of the project, nor made by the SQL itself, nor a
declared ``external`` table, nor DuckDB's own catalog, is refused at load (exit 2) naming the
asset and the closest name. At run time, every spelling reads only the mapped partitions.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_HEADER, ProjectFactory, run_cli, run_python
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow import Project
from assetflow.config.loading import load_definitions
from assetflow.config.models import parse_config
from assetflow.errors import AssetflowError, ConfigError, DefinitionError

# -- projects declared in TOML only (no module to import: fast enough for hypothesis) ----------

UPSTREAMS = """
[assets.orders]
sql = "select 1 as i"

[assets.region_summary]
sql = "select 'eu' as region"

[assets.order]
sql = "select 1 as i"
"""


def toml_project(readers: dict[str, str], extra: str = "", header: str = "") -> str:
    """A project of the upstream SQL assets and ``readers`` (name -> SQL)."""
    text = '[project]\nname = "t"\n' + header + UPSTREAMS
    for name, sql in readers.items():
        text += f"\n[assets.{name}]\nsql = '''\n{sql}\n'''\n"
    return text + extra


def definitions(tmp_path: Path, toml: str) -> dict[str, tuple[str, ...]]:
    """Each asset's dependencies, as the loader finds them (no state folder: no parse cache)."""
    config = parse_config(tomllib.loads(toml), tmp_path / "assets.toml")
    return {asset.name: asset.dep_names for asset in load_definitions(config).assets}


def refusal(tmp_path: Path, toml: str) -> str:
    with pytest.raises(DefinitionError) as raised:
        definitions(tmp_path, toml)
    return str(raised.value)


# -- unknown tables --------------------------------------------------------------------------


def test_a_typo_is_refused_at_load_naming_the_asset_and_the_closest_name(tmp_path: Path) -> None:
    message = refusal(tmp_path, toml_project({"region_report": "select * from region_sumary"}))
    assert message.startswith(
        "assets.toml: assets.region_report: unknown table 'region_sumary' in its SQL"
    ), message
    assert "not an asset, source or declared external table" in message
    assert "did you mean: region_summary?" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "sql",
    [
        "select * from main.region_sumary",
        'select * from "Region_Sumary"',
        "select * from warehouse.main.region_sumary",
        "with r as (select * from region_sumary) select * from r",
        "select * from (select * from region_sumary) s",
        "select * from orders union all select * from region_sumary",
        "select * from orders where i in (select i from region_sumary)",
        "select * from orders join region_sumary on true",
        "select * from orders where exists (select 1 from region_sumary)",
        "select (select count(*) from region_sumary) as n",
        "select * from {{ ref('region_sumary') }}",
    ],
)
def test_an_unknown_table_is_refused_wherever_it_is_named(tmp_path: Path, sql: str) -> None:
    message = refusal(tmp_path, toml_project({"region_report": sql}))
    assert "assets.region_report: unknown table" in message, message
    assert "region_sumary" in message.lower() and "did you mean: region_summary?" in message


def test_the_table_of_another_catalog_or_schema_is_unknown_until_declared(tmp_path: Path) -> None:
    message = refusal(tmp_path, toml_project({"payments_report": "select * from raw.payments"}))
    assert "assets.payments_report: unknown table 'raw.payments'" in message, message
    assert "external" in message
    message = refusal(tmp_path, toml_project({"r": "select * from other_db.main.orders"}))
    assert "unknown table 'other_db.main.orders'" in message, message


def test_sql_that_does_not_parse_is_refused_with_duckdbs_message(tmp_path: Path) -> None:
    sql = "select *\nfrom orders\nwher i = 1"
    message = refusal(tmp_path, toml_project({"bad": sql}))
    assert message.startswith("assets.toml: assets.bad: its SQL does not parse"), message
    assert 'syntax error at or near "i"' in message
    assert "line 3" in message
    # The position counts in the SQL as written, placeholders and refs included.
    sql = "select {{ partition_key }} as k,\n  * from {{ ref('orders') }} wher i = 1"
    message = refusal(tmp_path, toml_project({"bad": sql}))
    assert 'syntax error at or near "i"' in message and "line 2, column 35" in message, message
    # In a statement DuckDB cannot serialize, too.
    message = refusal(tmp_path, toml_project({"bad": "create temp table t as selec 1;\nfrom t"}))
    assert "its SQL does not parse" in message and "selec" in message, message


def test_a_cached_parse_never_hides_an_error(make_project: ProjectFactory) -> None:
    """The parse cache keeps the error: a second load refuses it too, still without DuckDB."""
    root = make_project(toml_project({"bad": "selec * from orders"}))
    (root / ".assetflow").mkdir()
    code = (
        "import sys\n"
        "from assetflow import Project\n"
        "from assetflow.errors import DefinitionError\n"
        "try:\n"
        "    Project.load('.')\n"
        "except DefinitionError as error:\n"
        "    print(error)\n"
        "print('duckdb' in sys.modules)\n"
    )
    for loaded_duckdb in ("True", "False"):
        done, out, err = run_python(code, root)
        assert done == 0, err
        lines = out.splitlines()
        assert "assets.bad: its SQL does not parse" in lines[0], out
        assert 'syntax error at or near "selec"' in lines[0], out
        assert lines[-1] == loaded_duckdb
    assert (root / ".assetflow" / "sql_names.json").is_file()


# -- what is known -----------------------------------------------------------------------------


def test_declared_external_tables_are_known_and_never_dependencies(tmp_path: Path) -> None:
    readers = {
        "payments_report": """
            select * from RAW.Payments p
            join "raw"."payments" q on true
            join warehouse.raw.payments w on true
            join legacy_rates r on true
            join main.legacy_rates m on true
            join Warehouse.Main."LEGACY_RATES" n on true
            join orders o on true
        """,
    }
    extra = 'external = ["raw.payments"]\n'
    header = 'external = ["legacy_rates"]\n'
    deps = definitions(tmp_path, toml_project(readers, extra, header))
    assert deps["payments_report"] == ("orders",)
    # A name declared external for one asset is unknown to the others.
    readers = {"other": "select * from raw.payments", **readers}
    message = refusal(tmp_path, toml_project(readers, extra, header))
    assert "assets.other: unknown table 'raw.payments'" in message, message
    # `legacy_rates` is not `raw.legacy_rates`, nor `raw.payments` `other.payments`.
    for sql in ("select * from raw.legacy_rates", "select * from other.main.payments"):
        message = refusal(tmp_path, toml_project({"r": sql}, extra, header))
        assert "assets.r: unknown table" in message, message


def test_external_is_for_sql_assets_and_names_no_asset(tmp_path: Path) -> None:
    toml = toml_project({}, '[assets.python_one]\nexternal = ["raw.x"]\n')
    with pytest.raises(ConfigError, match=r"assets\.python_one\.external: only allowed on a SQL"):
        parse_config(tomllib.loads(toml), tmp_path / "assets.toml")
    toml = toml_project({"r": "select * from orders"}, 'external = ["Orders"]\n')
    message = refusal(tmp_path, toml)
    assert "assets.r.external: 'Orders' is an asset of this project" in message, message
    for bad in ('""', '"a.b.c.d"', '"a..b"', "1"):
        toml = toml_project({}, header=f"external = [{bad}]\n")
        with pytest.raises(ConfigError, match=r"project\.external\[0\]"):
            parse_config(tomllib.loads(toml), tmp_path / "assets.toml")


@pytest.mark.parametrize(
    "sql",
    [
        "select * from information_schema.tables",
        "select * from system.information_schema.columns",
        "select * from pg_catalog.pg_class",
        "select * from pg_class",
        "select * from duckdb_tables()",
        "select * from duckdb_tables",
        "select * from sqlite_master",
        "select * from main.duckdb_settings()",
        "select * from range(3)",
        "select * from read_csv('data/x.csv')",
        "select * from 'data/x.parquet'",
        'select * from orders, region_summary, "order"',
    ],
)
def test_duckdbs_catalog_functions_and_files_are_known(tmp_path: Path, sql: str) -> None:
    """(A regression test: these loaded before; they must not be refused now.)"""
    definitions(tmp_path, toml_project({"r": sql}))


def test_tables_the_sql_makes_are_known_and_what_they_read_are_dependencies(
    tmp_path: Path,
) -> None:
    readers = {
        "by_temp_table": (
            "select 1; -- first\n/* then */ create -- a\n temp table t as select * from orders;\n"
            "select * from t"
        ),
        "by_view": (
            "create or replace temp view v as (select * from warehouse.main.region_summary);\n"
            "select * from temp.main.v"
        ),
        "by_insert": (
            'create temp table t (i int);\ninsert into t select i from "order";\ntable t'
        ),
        "by_attach": (
            "attach ':memory:' as scratch;\ncreate table scratch.x as select 1 as i;\n"
            "select * from scratch.main.x, orders"
        ),
    }
    deps = definitions(tmp_path, toml_project(readers))
    assert {name: deps[name] for name in readers} == {
        "by_temp_table": ("orders",),
        "by_view": ("region_summary",),
        "by_insert": ("order",),
        "by_attach": ("orders",),
    }
    # Only once it is made: a table read before its CREATE is unknown.
    message = refusal(tmp_path, toml_project({"r": "select * from t;\ncreate table t(i int)"}))
    assert "unknown table 't'" in message, message


# -- {{ ref('x') }} ------------------------------------------------------------------------------


def test_ref_is_a_synonym_of_the_name(tmp_path: Path) -> None:
    readers = {
        "single": "select * from {{ ref('orders') }}",
        "double": 'select * from {{ref("region_summary")}}',
        "spaced": "select * from {{  ref ( 'Orders' )  }} o join {{ref('order')}} x on true",
    }
    deps = definitions(tmp_path, toml_project(readers))
    assert {name: set(deps[name]) for name in readers} == {
        "single": {"orders"},
        "double": {"region_summary"},
        "spaced": {"orders", "order"},
    }
    message = refusal(tmp_path, toml_project({"r": "select * from {{ ref('ordrs') }}"}))
    assert "assets.r: unknown table 'ordrs'" in message and "did you mean: orders" in message


@pytest.mark.parametrize(
    "template", ["{{ source('raw', 'payments') }}", "{{ start | date }}", "{% if x %}t{% endif %}"]
)
def test_other_template_syntax_fails_the_load(tmp_path: Path, template: str) -> None:
    message = refusal(tmp_path, toml_project({"r": f"select * from orders, {template}"}))
    assert message.startswith("assets.toml: assets.r.sql: unsupported template syntax"), message
    assert "{{ ref('NAME') }}" in message


def test_ref_and_the_name_have_the_same_code_version() -> None:
    from assetflow.definitions.versions import sql_code_version

    plain = sql_code_version("select * from orders where k = {{ partition_key }}")
    for templated in (
        "select * from {{ ref('orders') }} where k = {{ partition_key }}",
        'SELECT * FROM {{ref("Orders")}} WHERE k = {{ partition_key }}',
    ):
        assert sql_code_version(templated) == plain
    assert sql_code_version("select * from {{ ref('customers') }}") != plain


# -- at run time: only the mapped partitions, whatever the spelling ----------------------------

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
    return context.warehouse.sql(f"select range as i from range({day})")
"""

READERS = {
    "by_catalog": "select count(*) as n from warehouse.main.orders",
    "by_quoted_catalog": 'select count(*) as n from "warehouse"."main"."orders"',
    "by_cased": 'select count(*) as n from WAREHOUSE . Main."Orders"',
    "by_catalog_only": "select count(*) as n from warehouse.orders",
    "by_ref": "select count(*) as n from {{ ref('orders') }}",
    "by_keyword": 'select count(*) as n from "order"',
    "by_keyword_ref": "select count(*) as n from {{ ref('order') }}",
    "by_temp_table": (
        "create or replace temp table t as select * from warehouse.main.orders;\n"
        "select count(*) as n from t"
    ),
    "by_union": (
        "select count(*) as n from (select i from warehouse.main.orders "
        'union all select i from "warehouse".orders where false)'
    ),
}


def sql_table(name: str, sql: str) -> str:
    return (
        f'[assets.{name}]\nsql = """\n{sql}\n"""\n'
        'partitions = { daily = { start = "2024-01-01", end = "2024-01-04" } }\n'
    )


@pytest.mark.usefixtures("clean_imports")
def test_every_spelling_reads_only_the_mapped_partitions(make_project: ProjectFactory) -> None:
    toml = PROJECT_HEADER + "\n".join(sql_table(name, sql) for name, sql in READERS.items())
    root = make_project(toml, pipeline=PIPELINE)
    project = Project.load(root)
    assert {name: project.asset(name).dep_names for name in READERS} == {
        name: ("order",) if "keyword" in name else ("orders",) for name in READERS
    }
    # Two days of the upstreams are in the warehouse; each reader makes the second one.
    for day in ("2024-01-01", "2024-01-02"):
        result = project.materialize(["orders", "order"], partition=day, only=True)
        assert result.status == "success"
    result = project.materialize(list(READERS), partition="2024-01-02", only=True)
    assert result.status == "success", [step.error for step in result.steps]
    with duckdb.connect(root / "warehouse.duckdb", read_only=True) as con:
        counts = {name: con.sql(f"select n from {name}").fetchall() for name in READERS}
    assert counts == {name: [(2,)] for name in READERS}


# -- through the CLI -----------------------------------------------------------------------------


def test_the_cli_exits_2_with_one_line_naming_the_asset(make_project: ProjectFactory) -> None:
    root = make_project(toml_project({"region_report": "select * from region_sumary"}))
    code, out, err = run_cli(["list"], root)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.strip() == (
        "error: assets.toml: assets.region_report: unknown table 'region_sumary' in its SQL: "
        "not an asset, source or declared external table (did you mean: region_summary?)"
    )


# -- generated spellings -----------------------------------------------------------------------

with duckdb.connect() as _con:
    KEYWORDS = {row[0] for row in _con.sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()}

names = st.sampled_from(["orders", "order", "region_summary", "Select", "x_1"])
gaps = st.sampled_from(["", " ", "\n  ", " /* a.b */ ", " -- note\n"])
WRAPPERS = [
    "select * from {ref}",
    "select * from {ref} as t",
    "from {ref} select 1",
    "with c as (select * from {ref}) select * from c",
    "select * from (select * from {ref}) s",
    "select 1 as i union all select i from {ref}",
    "select 1 as i where 1 in (select 1 from {ref})",
    "select * from range(2) r join {ref} t on true",
    "select (select count(*) from {ref}) as n",
    "create temp table tmp as select * from {ref};\nselect * from tmp",
    "-- first\ncreate temp table tmp (i int);\ninsert into tmp select 1 from {ref};\ntable tmp",
]


@st.composite
def spellings(draw: st.DrawFn, name: str) -> str:
    """``name`` as SQL may write it: any case, quoted or not, qualified or not, or a ref."""
    if draw(st.integers(0, 6)) == 0:
        quote = draw(st.sampled_from(["'", '"']))
        space = draw(st.sampled_from(["", " ", "  "]))
        return "{{" + space + f"ref({quote}{name}{quote})" + space + "}}"
    parts = [*draw(st.sampled_from([[], ["main"], ["warehouse"], ["warehouse", "main"]])), name]
    spelled = []
    for part in parts:
        cased = draw(st.sampled_from([part, part.lower(), part.upper(), part.swapcase()]))
        quoted = part.lower() in KEYWORDS or draw(st.booleans())
        spelled.append(f'"{cased}"' if quoted else cased)
    text = spelled[0]
    for part in spelled[1:]:
        text += draw(gaps) + "." + draw(gaps) + part
    return text


TARGETS = {
    "orders": "orders",
    "order": "order",
    "region_summary": "region_summary",
    "Select": "Select",
    "x_1": "x_1",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=names, known=st.booleans())
def test_every_spelling_is_a_dependency_or_a_refusal(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, name: str, known: bool
) -> None:
    table = name if known else name + "_typo"
    sql = data.draw(st.sampled_from(WRAPPERS)).format(ref=data.draw(spellings(table)))
    upstreams = {"orders", "order", "region_summary"} | ({name} if known else set())
    toml = '[project]\nname = "t"\n' + "".join(
        f'\n[assets."{upstream}"]\nsql = "select 1 as i"\n' for upstream in sorted(upstreams)
    )
    toml += f"\n[assets.reader]\nsql = '''\n{sql}\n'''\n"
    folder = tmp_path_factory.mktemp("p")
    if known:
        assert definitions(folder, toml)["reader"] == (name,), sql
    else:
        try:
            definitions(folder, toml)
        except AssetflowError as error:
            assert "assets.reader: unknown table '" in str(error), (sql, str(error))
            assert table.lower() in str(error).lower(), (sql, str(error))
        else:
            raise AssertionError(f"not refused: {sql}")
