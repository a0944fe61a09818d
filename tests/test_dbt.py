"""dbt projects as assets, with real dbt (no mocks) on the small project in tests/dbt_project.

tests/dbt_fixture holds the assetflow side: ``raw_orders`` (Python, read by the dbt source
``assetflow.raw_orders``) and ``order_report`` (Python, reading the dbt model
``daily_orders``). dbt invocations are slow, so the project is built once per test session
(shared by the xdist workers through a file lock) and each test works on a copy.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("dbt.cli.main", reason="needs the dbt extra: pip install 'assetflow[dbt]'")

from assetflow import Project
from assetflow.integrations.dbt import DbtProject
from assetflow.records import PartitionStatus, StepStatus

HERE = Path(__file__).resolve().parent
DBT_MODELS = ["raw_customers", "stg_customers", "stg_orders", "customer_orders", "daily_orders"]
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def _lay_out(folder: Path) -> Path:
    shutil.copytree(HERE / "dbt_fixture", folder)
    shutil.copytree(HERE / "dbt_project", folder / "dbt")
    return folder


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture project, every asset materialized, daily_orders by a date-range backfill."""
    shared = tmp_path_factory.getbasetemp().parent  # one per session, shared by the workers
    folder = shared / "dbt_built"
    with open(shared / "dbt_built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            project = Project.load(_lay_out(folder))
            first = project.materialize("*", exclude="daily_orders order_report")
            assert first.status.value == "success", first
            backfill = project.backfill("daily_orders", first=DAYS[0], last=DAYS[-1])
            assert [s.status for s in backfill.steps] == [StepStatus.SUCCESS] * 3, backfill
            assert project.materialize("order_report").status.value == "success"
            (folder / "done").write_text("")
    return folder


@pytest.fixture
def copy(built: Path, tmp_path: Path, clean_imports: None) -> Iterator[Path]:
    """A private copy of the built project (its state and warehouse too)."""
    target = tmp_path / "project"
    shutil.copytree(built, target)
    yield target


def _table(path: Path, name: str, exclude: tuple[str, ...] = ()) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = [c for c in con.table(name).columns if c not in exclude]
        listed = ", ".join(f'"{c}"' for c in columns)
        return sorted(con.sql(f"SELECT {listed} FROM {name}").fetchall(), key=repr)
    finally:
        con.close()


def test_tables_equal_what_dbt_build_makes(built: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(HERE / "dbt_project", reference / "dbt")
    warehouse = reference / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(f"ATTACH '{built / 'warehouse.duckdb'}' AS built (READ_ONLY)")
    con.execute("CREATE TABLE raw_orders AS SELECT * FROM built.main.raw_orders")
    con.close()
    dbt = DbtProject(reference / "dbt", reference / ".dbt", warehouse)
    assert dbt.invoke(["build"]).success
    for name in DBT_MODELS:
        assert _table(built / "warehouse.duckdb", name) == _table(warehouse, name), name
        assert _table(warehouse, name), name
    snapshot_columns = ("dbt_valid_from", "dbt_valid_to", "dbt_updated_at", "dbt_scd_id")
    assert _table(built / "warehouse.duckdb", "customers_snapshot", snapshot_columns) == (
        _table(warehouse, "customers_snapshot", snapshot_columns)
    )


def test_the_graph_joins_python_and_dbt(built: Path, clean_imports: None) -> None:
    project = Project.load(built)
    kinds = {name: project.asset(name).kind for name in project.assets}
    assert kinds["raw_orders"] == "python" and kinds["order_report"] == "python"
    assert {name for name, kind in kinds.items() if kind == "dbt"} == {
        *DBT_MODELS,
        "customers_snapshot",
    }
    # ref, source (the dbt source names the Python asset), and the relationships test's `to`
    assert set(project.asset("stg_orders").dep_names) == {"raw_orders", "stg_customers"}
    assert project.asset("order_report").dep_names == ("daily_orders",)
    assert project.asset("daily_orders").partitions.keys() == DAYS
    assert project.asset("stg_orders").code_version.startswith("dbt:")
    checks = {c["check"]: c for c in project.checks()}
    assert checks["not_null_stg_orders_order_id"]["kind"] == "dbt"
    assert checks["not_null_stg_orders_order_id"]["blocking"] is True
    assert checks["not_null_stg_orders_order_id"]["asset"] == "stg_orders"
    assert checks["not_null_stg_orders_order_id"]["latest"]["passed"] is True
    assert any(name.startswith("relationships_stg_orders") for name in checks)
    statuses = {(s.asset, s.partition): s.status for s in project.status()}
    assert set(statuses.values()) == {PartitionStatus.FRESH}, statuses


def test_dbt_selection_syntax(built: Path, clean_imports: None) -> None:
    project = Project.load(built)
    assert project.select("dbt:tag:nightly") == ["daily_orders"]
    assert set(project.select("dbt:stg_orders+")) == {
        "stg_orders",
        "customer_orders",
        "daily_orders",
    }
    # assetflow's own syntax reaches the Python asset downstream
    assert "order_report" in project.select("stg_orders+")


def test_editing_one_model_makes_exactly_it_and_its_downstream_stale(copy: Path) -> None:
    model = copy / "dbt" / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text() + "where amount > 0\n")
    project = Project.load(copy)
    stale = {(s.asset, s.partition): s for s in project.status() if s.status.value != "fresh"}
    expected = {("stg_orders", "-"), ("customer_orders", "-"), ("order_report", "-")}
    expected |= {("daily_orders", day) for day in DAYS}
    assert set(stale) == expected
    assert [r.kind.value for r in stale[("stg_orders", "-")].reasons] == ["code_changed"]
    assert {r.kind.value for r in stale[("daily_orders", DAYS[1])].reasons} == {"upstream_stale"}
    result = project.materialize("stg_orders+")
    assert {s.status for s in result.steps} <= {StepStatus.SUCCESS, StepStatus.SKIPPED}
    assert {s.status.value for s in project.status()} == {"fresh"}


def _null_order(folder: Path) -> None:
    """An order without id lands (the Python asset raw_orders is made again with it)."""
    orders = folder / "orders.csv"
    orders.write_text(orders.read_text() + ",2,2024-01-02,1.0\n")


def test_a_failing_error_test_blocks_the_downstream(copy: Path) -> None:
    _null_order(copy)
    project = Project.load(copy)
    assert project.materialize("raw_orders", force=True).status.value == "success"
    result = project.materialize("raw_orders+")
    steps = {(s.asset, s.partition): s for s in result.steps}
    failed = steps[("stg_orders", "-")]
    assert failed.status is StepStatus.FAILED
    assert "check_failed: not_null_stg_orders_order_id" in (failed.error or "")
    for node in [("customer_orders", "-"), ("order_report", "-")] + [
        ("daily_orders", d) for d in DAYS
    ]:
        assert steps[node].status is StepStatus.SKIPPED, node
        assert steps[node].reason is not None and "upstream failed" in steps[node].reason


def test_a_failing_warn_test_does_not_block(copy: Path) -> None:
    _null_order(copy)
    schema = copy / "dbt" / "models" / "staging" / "schema.yml"
    schema.write_text(
        schema.read_text().replace(
            "          - not_null\n      - name: customer_id\n        tests:\n          - rel",
            "          - not_null:\n              config:\n                severity: warn\n"
            "      - name: customer_id\n        tests:\n          - rel",
            1,
        )
    )
    project = Project.load(copy)
    assert any(
        c.name == "not_null_stg_orders_order_id" and not c.blocking for c in project.graph.checks
    )
    assert project.materialize("raw_orders", force=True).status.value == "success"
    result = project.materialize("raw_orders+")
    assert {s.status for s in result.steps} == {StepStatus.SUCCESS}, result
    latest = {c["check"]: c["latest"] for c in project.checks("stg_orders")}
    assert latest["not_null_stg_orders_order_id"]["passed"] is False
    assert latest["not_null_stg_orders_order_id"]["metadata"]["failures"] == 1


def test_missing_extra_is_a_clear_load_error(tmp_path: Path) -> None:
    folder = _lay_out(tmp_path / "project")
    code = (
        "import sys; sys.modules['dbt'] = None\n"
        "from assetflow.cli import main\n"
        f"sys.argv = ['assetflow', 'list', '--project', {str(folder)!r}]\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "pip install 'assetflow[dbt]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_dbt_is_never_imported_without_a_dbt_table(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "plain.py").write_text(
        "from assetflow import asset\n\n@asset\ndef one():\n    pass\n"
    )
    (folder / "assets.toml").write_text('[project]\nname = "plain"\nmodules = ["plain"]\n')
    code = (
        "import importlib, pkgutil, sys\n"
        "import assetflow\n"
        "for m in pkgutil.walk_packages(assetflow.__path__, 'assetflow.'):\n"
        "    importlib.import_module(m.name)\n"
        "from assetflow import Project\n"
        f"project = Project.load({str(folder)!r})\n"
        "project.status()\n"
        "print(sorted(m for m in sys.modules if m == 'dbt' or m.startswith('dbt.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
