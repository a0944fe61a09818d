"""``Project.load(path)`` in-process: SQL dependencies, overrides, defaults, module imports.

Every test writes its project into ``tmp_path``; ``clean_imports`` (conftest.py) restores
``sys.path`` and forgets the project's modules afterwards.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, REPO_ROOT, ProjectFactory, run_python

from assetflow import Project, RetryPolicy, TimeWindowMapping
from assetflow.errors import GraphError

pytestmark = pytest.mark.usefixtures("clean_imports")

# Python assets that SQL assets in these tests read from.
SOURCES = """
from assetflow import asset, DailyPartitions

DAYS = DailyPartitions(start="2024-01-01", end="2024-02-01")

@asset(partitions=DAYS, tags={"domain": "sales"}, checks=["not_null(order_id)"])
def orders():
    "Orders of one day."

@asset
def customers():
    ...

@asset
def products():
    ...

@asset
def returns():
    ...
"""


def sql_asset(name: str, sql: str, extra: str = "") -> str:
    """An ``[assets.NAME]`` table declaring a SQL asset."""
    return f'[assets.{name}]\nsql = """\n{sql}\n"""\n{extra}'


def load(make_project: ProjectFactory, toml: str, pipeline: str = SOURCES) -> Project:
    return Project.load(make_project(PROJECT_HEADER + toml, pipeline=pipeline))


# --- SQL assets: dependencies from the query ---------------------------------------------------


def test_sql_deps_are_found_from_from_and_join(make_project: ProjectFactory) -> None:
    project = load(
        make_project,
        sql_asset(
            "report",
            """
            select o.*, c.name, 'from returns' as note   -- from returns (a comment)
            from main.orders o
            join customers c using (customer_id)
            left join (select * from products) p on p.product_id = o.product_id
            , page_views v                                  -- a warehouse table, not an asset
            where o.order_date = {{ partition_key }}
            """,
            'external = ["page_views"]\n',
        ),
    )
    assert sorted(project.asset("report").dep_names) == ["customers", "orders", "products"]
    assert project.asset("report").kind == "sql"
    assert sorted(project.graph.upstream("report")) == ["customers", "orders", "products"]
    assert "report" in project.graph.downstream("orders")


def test_cte_names_are_not_deps_even_when_they_shadow_an_asset(
    make_project: ProjectFactory,
) -> None:
    project = load(
        make_project,
        sql_asset(
            "report",
            """
            with customers as (select * from raw_customers),
                 recent as (select * from orders where true)
            select * from recent join customers using (customer_id)
            """,
            'external = ["raw_customers"]\n',
        ),
    )
    assert project.asset("report").dep_names == ("orders",)


def test_explicit_deps_come_first_and_found_ones_are_added(make_project: ProjectFactory) -> None:
    project = load(
        make_project,
        sql_asset(
            "report",
            "select * from orders join customers using (customer_id)",
            'deps = ["returns", "orders"]\n',
        ),
    )
    # Explicit deps in their order, then the ones found in the SQL; nothing twice.
    assert project.asset("report").dep_names == ("returns", "orders", "customers")


def test_explicit_dep_mapping_is_kept_for_a_table_found_in_the_sql(
    make_project: ProjectFactory,
) -> None:
    project = load(
        make_project,
        sql_asset(
            "weekly_window",
            "select * from orders",
            'partitions = { daily = { start = "2024-01-01", end = "2024-02-01" } }\n'
            "deps = { orders = { time_window = { start_offset = -6, end_offset = 0 } } }\n",
        ),
    )
    assert project.asset("weekly_window").dep_names == ("orders",)
    assert project.graph.mapping("weekly_window", "orders") == TimeWindowMapping(-6, 0)
    assert project.graph.upstream_partitions("weekly_window", "2024-01-10") == {
        "orders": [f"2024-01-{day:02d}" for day in range(4, 11)]
    }


def test_a_sql_asset_reading_its_own_table_is_not_self_dependent(
    make_project: ProjectFactory,
) -> None:
    project = load(
        make_project,
        sql_asset("snapshot", "select * from orders union all select * from snapshot"),
    )
    assert project.asset("snapshot").dep_names == ("orders",)


def test_from_inside_extract_is_not_a_table(make_project: ProjectFactory) -> None:
    """The FROM of extract(... from COL) is not a FROM clause (it would make a false cycle)."""
    # `signups` is an asset downstream of `cohorts`, and also a column of `customers`.
    project = load(
        make_project,
        sql_asset("cohorts", "select extract(year from signups) as y, * from customers"),
        SOURCES + "\n@asset\ndef signups(cohorts):\n    ...\n",
    )
    assert project.asset("cohorts").dep_names == ("customers",)


# --- overrides of Python assets ---------------------------------------------------------------


def test_overrides_are_applied_to_a_python_asset(make_project: ProjectFactory) -> None:
    project = load(
        make_project,
        """
        [pools]
        warehouse = 2

        [assets.orders]
        retries = { max_retries = 5, delay = 2.0, backoff = 2.0 }
        freshness = { max_lag = "26h" }
        tags = { tier = "gold", domain = "shop" }
        checks = ["unique(order_id)"]
        code_version = "v7"
        timeout = "10m"
        pool = "warehouse"
        group = "sales"
        owners = ["data@example.com"]
        description = "Orders, as exported."
        """,
    )
    orders = project.asset("orders")
    assert orders.retries == RetryPolicy(max_retries=5, delay=2.0, backoff=2.0)
    assert orders.freshness is not None and orders.freshness.max_lag == timedelta(hours=26)
    assert dict(orders.tags) == {"domain": "shop", "tier": "gold"}  # merged, TOML wins
    assert orders.checks == ("not_null(order_id)", "unique(order_id)")  # added, not replaced
    assert orders.code_version == "v7" and orders.code_version_explicit
    assert orders.timeout == timedelta(minutes=10)
    assert orders.pool == "warehouse"
    assert orders.group == "sales"
    assert orders.owners == ("data@example.com",)
    assert orders.description == "Orders, as exported."
    assert orders.kind == "python" and orders.partitions.kind == "daily"
    checks = sorted(check.name for check in project.graph.checks if check.asset == "orders")
    assert len(checks) == 2 and any("unique" in c for c in checks)
    assert any("not_null" in c for c in checks)


def test_no_override_leaves_the_declaration_alone(make_project: ProjectFactory) -> None:
    orders = load(make_project, "").asset("orders")
    assert orders.retries == RetryPolicy()
    assert orders.freshness is None
    assert dict(orders.tags) == {"domain": "sales"}
    assert orders.checks == ("not_null(order_id)",)
    assert not orders.code_version_explicit and orders.code_version
    assert orders.description == "Orders of one day."


# --- the project timezone ---------------------------------------------------------------------

TIMEZONES = """
from assetflow import asset, DailyPartitions, MultiPartitions, StaticPartitions

@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-02-01"))
def local_days():
    ...

@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-02-01", timezone="UTC"))
def utc_days():
    ...

@asset(partitions=MultiPartitions({
    "date": DailyPartitions(start="2024-01-01", end="2024-02-01"),
    "region": StaticPartitions(["eu", "us"]),
}))
def regional():
    ...
"""


def test_project_timezone_fills_in_partitions_declared_without_one(
    make_project: ProjectFactory,
) -> None:
    toml = (
        'timezone = "Asia/Seoul"\n'
        + sql_asset(
            "sql_days",
            "select 1",
            'partitions = { daily = { start = "2024-01-01", end = "2024-02-01" } }\n',
        )
        + sql_asset(
            "sql_berlin_days",
            "select 1",
            "partitions = { daily = { start = 2024-01-01, end = 2024-02-01,"
            ' timezone = "Europe/Berlin" } }\n',
        )
    )
    project = load(make_project, toml, TIMEZONES)

    def zone(name: str) -> object:
        return project.asset(name).partitions.describe()["timezone"]

    assert zone("local_days") == "Asia/Seoul"
    assert zone("sql_days") == "Asia/Seoul"
    assert zone("utc_days") == "UTC"  # an explicit timezone is kept
    assert zone("sql_berlin_days") == "Europe/Berlin"
    start, end = project.asset("local_days").partitions.time_window("2024-01-31")  # type: ignore[attr-defined]
    assert start == datetime(2024, 1, 30, 15, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    dimensions = project.asset("regional").partitions.describe()["dimensions"]
    assert dimensions["date"]["timezone"] == "Asia/Seoul"


def test_default_project_timezone_is_utc(make_project: ProjectFactory) -> None:
    project = load(make_project, "", TIMEZONES)
    assert project.asset("local_days").partitions.describe()["timezone"] == "UTC"


# --- importing the project's modules ----------------------------------------------------------


def two_projects(make_project: ProjectFactory, sources: dict[str, str]) -> dict[str, Path]:
    """Projects ``a`` and ``b`` with the same module names; ``{X}`` in sources is the name."""
    roots = {}
    for name in ("a", "b"):
        modules = [path.removesuffix(".py").replace("/", ".") for path in sources]
        modules = [m for m in modules if not m.endswith("__init__")]
        toml = f'[project]\nname = "{name}"\nmodules = {modules!r}\n'.replace("'", '"')
        files = {path: source.replace("{X}", name) for path, source in sources.items()}
        roots[name] = make_project(toml, files, name=name)
    return roots


def test_project_root_comes_first_on_sys_path(make_project: ProjectFactory) -> None:
    root = make_project(pipeline=SOURCES)
    project = Project.load(root)
    assert Path(sys.path[0]).resolve() == root.resolve()
    assert Path(sys.modules["pipeline"].__file__ or "").resolve() == (root / "pipeline.py")
    assert project.root == root.resolve()


def test_two_projects_in_one_process_each_load_their_own_modules(
    make_project: ProjectFactory,
) -> None:
    roots = two_projects(
        make_project,
        {
            "pipeline.py": "from assetflow import asset\n\n@asset\ndef from_{X}():\n    ...\n",
            "pkg/__init__.py": "",
            "pkg/assets.py": "from assetflow import asset\n\n@asset\ndef pkg_{X}():\n    ...\n",
        },
    )
    for name in ("a", "b", "a"):
        project = Project.load(roots[name])
        assert sorted(project.assets) == [f"from_{name}", f"pkg_{name}"], name
        assert Path(sys.modules["pipeline"].__file__ or "").parent == roots[name].resolve()


def test_two_projects_each_get_their_own_helper_modules(make_project: ProjectFactory) -> None:
    """Not only the modules named in project.modules: what they import is the project's own."""
    roots = two_projects(
        make_project,
        {
            "pipeline.py": "from assetflow import asset\nfrom common import PREFIX\n\n"
            '@asset(name=PREFIX + "_orders")\ndef orders():\n    ...\n',
            "common.py": 'PREFIX = "{X}"\n',
        },
    )
    assert list(Project.load(roots["a"]).assets) == ["a_orders"]
    assert list(Project.load(roots["b"]).assets) == ["b_orders"]


LOAD_AFTER_THE_EXAMPLE = """
import sys
import assetflow.definitions.assets
from assetflow import Project

Project.load(sys.argv[1])            # the example project, whose root holds assetflow itself
second = Project.load(sys.argv[2])
print(sorted(second.assets))
print(sys.modules["assetflow.definitions.assets"] is assetflow.definitions.assets)
"""


def test_loading_a_second_project_after_the_example_keeps_assetflow(
    make_project: ProjectFactory,
) -> None:
    """In a fresh process (it would poison this one): example project, then another one."""
    second = make_project(pipeline=SOURCES)
    code, out, err = run_python(
        LOAD_AFTER_THE_EXAMPLE + "\n",
        REPO_ROOT,
        args=[str(REPO_ROOT), str(second)],
    )
    assert code == 0, err
    assert out.splitlines() == ["['customers', 'orders', 'products', 'returns']", "True"], out


def test_a_function_imported_into_two_modules_is_one_asset(make_project: ProjectFactory) -> None:
    root = make_project(
        PROJECT_HEADER.replace('["pipeline"]', '["pipeline", "reexport"]'),
        {
            "reexport.py": "from pipeline import orders, customers as clients\n",
            "pipeline.py": SOURCES,
        },
    )
    project = Project.load(root)
    assert sorted(project.assets) == ["customers", "orders", "products", "returns"]
    assert [c.asset for c in project.graph.checks] == ["orders"]  # its check counted once too


def test_a_real_duplicate_in_another_module_is_still_an_error(
    make_project: ProjectFactory,
) -> None:
    """Counting a re-export once must not hide a real duplicate."""
    root = make_project(
        PROJECT_HEADER.replace('["pipeline"]', '["pipeline", "duplicate"]'),
        {
            "pipeline.py": SOURCES,
            "duplicate.py": "from assetflow import asset\n\n@asset\ndef orders():\n    ...\n",
        },
    )
    with pytest.raises(GraphError, match=r"two assets are named 'orders'.*pipeline.*duplicate"):
        Project.load(root)


def test_decorated_functions_stay_callable(make_project: ProjectFactory) -> None:
    project = Project.load(
        make_project(pipeline="from assetflow import asset\n\n@asset\ndef one():\n    return 1\n")
    )
    fn = project.asset("one").fn
    assert fn is not None and fn() == 1
    assert fn is sys.modules["pipeline"].one


# --- finding assets.toml ----------------------------------------------------------------------


def test_load_takes_the_file_the_folder_or_a_subfolder(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(pipeline=SOURCES)
    (root / "sub" / "deeper").mkdir(parents=True)
    expected = ["customers", "products", "returns", "orders"]
    for path in (root / "assets.toml", root, root / "sub" / "deeper"):
        assert sorted(Project.load(path).assets) == sorted(expected), path
    monkeypatch.chdir(root / "sub")
    assert Project.load().root == root.resolve()
