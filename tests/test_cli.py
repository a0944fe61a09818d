"""The command line's happy paths, run as real subprocesses (``python -m assetflow ...``).

Most tests run against the example project at the repository root (a small online shop:
customers, products, orders, orders_cleaned, daily_revenue, monthly_revenue,
revenue_dashboard); ``init`` and the graph labels use projects written into ``tmp_path``.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, ProjectFactory, run_cli, run_python

EXAMPLE_ASSETS = [
    "customer_export",
    "customers",
    "products",
    "orders",
    "orders_cleaned",
    "daily_revenue",
    "cumulative_revenue",
    "monthly_revenue",
    "revenue_dashboard",
]
EXAMPLE_DEPS = {
    "customer_export": [],
    "customers": ["customer_export"],
    "products": [],
    "orders": ["products"],
    "orders_cleaned": ["orders", "products"],
    "daily_revenue": ["orders_cleaned"],
    "cumulative_revenue": ["daily_revenue", "cumulative_revenue"],
    "monthly_revenue": ["orders_cleaned"],
    "revenue_dashboard": ["monthly_revenue", "customers", "daily_revenue"],
}
EXAMPLE_EDGES = {(up, down) for down, ups in EXAMPLE_DEPS.items() for up in ups}


def ok(args: list[str], cwd: Path = REPO_ROOT) -> str:
    """Run the CLI, assert success and a quiet stderr, return stdout."""
    code, out, err = run_cli(args, cwd)
    assert code == 0, f"exit code {code}; stderr:\n{err}"
    assert "Traceback" not in err, err
    return out


def ok_json(args: list[str], cwd: Path = REPO_ROOT) -> Any:
    """Run a ``--json`` command: stdout must be exactly one JSON document."""
    return json.loads(ok([*args, "--json"], cwd))


def selected(args: list[str], cwd: Path = REPO_ROOT) -> list[str]:
    return [record["asset"] for record in ok_json(["list", *args], cwd)["assets"]]


@pytest.fixture(scope="module")
def example_json() -> dict[str, Any]:
    """``assetflow list --json`` of the example project (run once per test worker)."""
    document: dict[str, Any] = ok_json(["list"])
    return document


# --- list -------------------------------------------------------------------------------------


def table_rows(text: str) -> dict[str, list[str]]:
    """The rows of a ``list`` table by asset name; cells are separated by 2+ spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header[:4] == ["ASSET", "KIND", "PARTITIONS", "DEPS"], lines[0]
    rows = {}
    for line in lines[1:]:
        if re.fullmatch(r"\d+ asset\(s\)", line.strip()):
            continue
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), line
        rows[cells[0]] = cells
    return rows


def test_list_shows_the_example_assets_with_partitions_and_deps() -> None:
    out = ok(["list"])
    rows = table_rows(out)
    assert list(rows) == EXAMPLE_ASSETS  # topological order, ties by name
    assert rows["orders"][1] == "python"
    assert rows["daily_revenue"][1] == "sql"
    assert "daily" in rows["orders"][2] and "2024-01-01" in rows["orders"][2]
    assert "monthly" in rows["monthly_revenue"][2]
    assert rows["customers"][2] == "-"
    for name, deps in EXAMPLE_DEPS.items():
        assert rows[name][3] == (", ".join(deps) or "-"), rows[name]
    assert rows["orders"][4] == "sales"
    assert "domain=sales" in rows["orders"][5]
    assert out.rstrip().endswith(f"{len(EXAMPLE_ASSETS)} asset(s)")


def test_list_json_has_the_documented_fields(example_json: dict[str, Any]) -> None:
    assets = example_json["assets"]
    assert [record["asset"] for record in assets] == EXAMPLE_ASSETS
    documented = {"asset", "kind", "partitions", "deps", "group", "tags", "schedule", "description"}
    for record in assets:
        assert documented <= set(record), record["asset"]
        assert record["kind"] in ("python", "sql", "source")
        assert {"kind", "start", "end", "timezone", "count"} <= set(record["partitions"])
        assert isinstance(record["partitions"]["count"], int)
        assert isinstance(record["deps"], list)
        assert isinstance(record["group"], str)
        assert isinstance(record["tags"], dict)
        assert record["schedule"] is None or isinstance(record["schedule"], str)
        assert isinstance(record["description"], str)
    by_name = {record["asset"]: record for record in assets}
    assert {name: by_name[name]["deps"] for name in by_name} == EXAMPLE_DEPS
    assert by_name["orders"]["partitions"] == {
        "kind": "daily",
        "start": "2024-01-01",
        "end": "2025-01-01",
        "timezone": "UTC",
        "count": 366,
    }
    assert by_name["monthly_revenue"]["partitions"]["count"] == 12
    assert by_name["customers"]["partitions"]["count"] == 1
    assert by_name["daily_revenue"]["kind"] == "sql"
    assert by_name["daily_revenue"]["group"] == "finance"
    assert by_name["orders"]["tags"] == {"domain": "sales"}
    assert by_name["customers"]["description"].startswith("Every customer of the shop")


# --- graph ------------------------------------------------------------------------------------

# A box for an asset, a cylinder ``[("...")]`` for a source.
MERMAID_NODE = re.compile(
    r'^\s+(?P<id>[A-Za-z_]\w*)(?:\["(?P<label>[^"]*)"\]|\[\("(?P<source>[^"]*)"\)\])$'
)
MERMAID_EDGE = re.compile(
    r'^\s+(?P<up>[A-Za-z_]\w*) (?:-->|-- "(?P<label>[^"]*)" -->) (?P<down>[A-Za-z_]\w*)$'
)


def parse_mermaid(text: str) -> tuple[list[str], dict[tuple[str, str], str | None]]:
    """Node ids and edges (with their label) of a ``graph --format mermaid`` output.

    Fails on any line that is neither the header, a node definition nor an edge.
    """
    lines = text.rstrip("\n").splitlines()
    assert re.fullmatch(r"flowchart (LR|TD|TB|RL|BT)", lines[0]), lines[0]
    nodes: list[str] = []
    edges: dict[tuple[str, str], str | None] = {}
    for line in lines[1:]:
        if node := MERMAID_NODE.match(line):
            nodes.append(node["id"])
        elif edge := MERMAID_EDGE.match(line):
            edges[(edge["up"], edge["down"])] = edge["label"]
        else:
            pytest.fail(f"not a mermaid node or edge line: {line!r}")
    for up, down in edges:
        assert up in nodes and down in nodes, (up, down)
    return nodes, edges


def test_graph_mermaid_has_an_edge_for_every_dependency(example_json: dict[str, Any]) -> None:
    nodes, edges = parse_mermaid(ok(["graph", "--format", "mermaid"]))
    assert nodes == EXAMPLE_ASSETS
    expected = {(dep, r["asset"]) for r in example_json["assets"] for dep in r["deps"]}
    assert set(edges) == expected == EXAMPLE_EDGES


def test_graph_dot() -> None:
    out = ok(["graph", "--format", "dot"])
    lines = out.strip().splitlines()
    assert lines[0].startswith("digraph") and lines[0].endswith("{")
    assert lines[-1] == "}"
    nodes = set(re.findall(r'^\s+"(\w+)" \[label=', out, flags=re.MULTILINE))
    edges = set(re.findall(r'^\s+"(\w+)" -> "(\w+)"', out, flags=re.MULTILINE))
    assert nodes == set(EXAMPLE_ASSETS)
    assert edges == EXAMPLE_EDGES


def test_graph_text_is_the_default_format() -> None:
    out = ok(["graph"])
    found: dict[str, list[str]] = {}
    for line in out.strip().splitlines():
        match = re.fullmatch(r"(\w+)(?: \(source\))? \[(\w+)\](?:  <- (.*))?", line)
        assert match, line
        # Split on commas outside parentheses, then drop mapping labels: "x (time_window(-1, -1))".
        parts = re.split(r", (?![^()]*\))", match[3]) if match[3] else []
        found[match[1]] = [re.sub(r" \(.*\)$", "", part) for part in parts]
    assert found == EXAMPLE_DEPS


def test_graph_shows_mapping_labels_and_self_dependencies(make_project: ProjectFactory) -> None:
    root = make_project(
        pipeline="""
        from assetflow import asset, DailyPartitions, MonthlyPartitions, TimeWindowMapping

        DAYS = DailyPartitions(start="2024-01-01", end="2024-02-01")

        @asset(partitions=DAYS)
        def orders():
            ...

        @asset(partitions=DAYS, deps={"running_total": TimeWindowMapping(-1, -1)})
        def running_total(orders, running_total):
            ...

        @asset(partitions=MonthlyPartitions(start="2024-01", end="2024-02"))
        def monthly(orders):
            ...
        """
    )
    nodes, edges = parse_mermaid(ok(["graph", "--format", "mermaid"], root))
    assert sorted(nodes) == ["monthly", "orders", "running_total"]
    assert edges == {
        ("orders", "running_total"): None,
        ("running_total", "running_total"): "time_window(-1, -1)",
        ("orders", "monthly"): None,
    }


def test_graph_of_a_selection_keeps_only_its_edges() -> None:
    nodes, edges = parse_mermaid(
        ok(["graph", "+monthly_revenue", "--exclude", "products", "--format", "mermaid"])
    )
    assert nodes == ["orders", "orders_cleaned", "monthly_revenue"]
    assert set(edges) == {("orders", "orders_cleaned"), ("orders_cleaned", "monthly_revenue")}


# --- selections -------------------------------------------------------------------------------


SELECTIONS = [
    (["+orders_cleaned"], ["products", "orders", "orders_cleaned"]),
    (
        ["orders+"],
        [
            "orders",
            "orders_cleaned",
            "daily_revenue",
            "cumulative_revenue",
            "monthly_revenue",
            "revenue_dashboard",
        ],
    ),
    (["1+monthly_revenue"], ["orders_cleaned", "monthly_revenue"]),
    (["tag:domain=sales"], ["orders", "orders_cleaned"]),
    (
        ["group:finance"],
        ["daily_revenue", "cumulative_revenue", "monthly_revenue", "revenue_dashboard"],
    ),
    (["*"], EXAMPLE_ASSETS),
    (["customers", "products"], ["customers", "products"]),
    (
        ["*", "--exclude", "group:finance"],
        ["customer_export", "customers", "products", "orders", "orders_cleaned"],
    ),
    (
        ["+revenue_dashboard", "-x", "+orders_cleaned"],
        ["customer_export", "customers", "daily_revenue", "monthly_revenue", "revenue_dashboard"],
    ),
]


@pytest.mark.parametrize(
    ("args", "expected"), SELECTIONS, ids=[" ".join(args) for args, _ in SELECTIONS]
)
def test_selection(args: list[str], expected: list[str]) -> None:
    assert selected(args) == expected


# --- partitions -------------------------------------------------------------------------------


def test_partitions_range_as_json() -> None:
    document = ok_json(["partitions", "orders", "--from", "2024-01-30", "--to", "2024-02-02"])
    assert document["asset"] == "orders"
    records = document["partitions"]
    assert [r["partition"] for r in records] == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-02-02",
    ]
    assert records[0]["start"] == "2024-01-30T00:00:00+00:00"
    assert records[-1]["end"] == "2024-02-03T00:00:00+00:00"
    for record, following in itertools.pairwise(records):
        assert record["end"] == following["start"]


# --- init -------------------------------------------------------------------------------------


def test_init_writes_a_project_that_lists_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = ok(["init", "shop"], tmp_path)
    project = tmp_path / "shop"
    assert (project / "assets.toml").is_file()
    assert "assets.toml" in out
    written = {path.name: path.read_bytes() for path in project.iterdir() if path.is_file()}
    assert set(written) >= {"assets.toml", "pipeline.py"}

    rows = table_rows(ok(["list"], project))
    assert set(rows) >= {"page_views", "daily_totals", "top_pages"}
    assert rows["top_pages"][1] == "sql"
    assert "page_views" in rows["daily_totals"][3]

    code, out, err = run_cli(["init", "shop"], tmp_path)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert "assets.toml" in err and "overwrit" in err
    after = {path.name: path.read_bytes() for path in project.iterdir() if path.is_file()}
    assert after == written


def test_init_into_the_current_folder(tmp_path: Path) -> None:
    ok(["init"], tmp_path)
    assert (tmp_path / "assets.toml").is_file()
    assert (tmp_path / "pipeline.py").is_file()


# --- finding the project ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "{file}", "list"],
        ["-p", "{folder}", "graph"],
        ["list", "--project", "{folder}"],
        ["graph", "-p", "{file}"],
    ],
    ids=["before, file", "before, folder", "after, folder", "after, file"],
)
def test_project_option(args: list[str], tmp_path: Path) -> None:
    paths = {"file": str(REPO_ROOT / "assets.toml"), "folder": str(REPO_ROOT)}
    out = ok([arg.format(**paths) for arg in args], tmp_path)
    if "list" in args:
        assert list(table_rows(out)) == EXAMPLE_ASSETS
    else:
        assert [line.split()[0] for line in out.splitlines()] == EXAMPLE_ASSETS


def test_assets_toml_is_found_upward_from_a_subfolder() -> None:
    subfolder = REPO_ROOT / "examples" / "shop"
    assert not (subfolder / "assets.toml").exists()
    assert list(table_rows(ok(["list"], subfolder))) == EXAMPLE_ASSETS


# --- help -------------------------------------------------------------------------------------


def test_module_help_lists_the_commands() -> None:
    out = ok(["--help"])
    assert "Usage:" in out
    commands = re.findall(r"^  (\w[\w-]*)\s{2,}", out.split("Commands:", 1)[1], re.MULTILINE)
    assert {"init", "list", "graph", "partitions"} <= set(commands)


EVERY_HELP = """
import contextlib, io, json
from typer.main import get_command
from assetflow.cli import run
from assetflow.cli.app import app

def paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, (*prefix, name))

codes = {}
for path in paths(get_command(app)):
    for flag in ("--help", "-h"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = run([*path, flag])
        codes[" ".join([*path, flag])] = [code, "Usage:" in out.getvalue()]
print(json.dumps(codes))
"""


def test_every_command_help_exits_0() -> None:
    code, out, err = run_python(EVERY_HELP, REPO_ROOT)
    assert code == 0, err
    codes = json.loads(out)
    assert {"list --help", "graph -h", "partitions --help", "init --help"} <= set(codes)
    assert {args: result for args, result in codes.items() if result != [0, True]} == {}


# --- start-up stays light ---------------------------------------------------------------------

HEAVY = ["textual", "dask", "pandas", "polars", "duckdb", "pydantic", "networkx"]


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = (
        "import assetflow.cli, sys\n"
        f"heavy = {set(HEAVY)!r}\n"
        "found = sorted({m.split('.')[0] for m in sys.modules} & heavy)\n"
        "assert not found, found\n"
    )
    status, _, err = run_python(code, REPO_ROOT)
    assert status == 0, err


def test_help_imports_nothing_heavy() -> None:
    """``python -X importtime -m assetflow --help``: the real entry point, every import listed."""
    import subprocess
    import sys

    from helpers import cli_env

    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assetflow", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "assetflow" in imported  # the importtime report was read correctly
    assert sorted(imported & set(HEAVY)) == []


# Libraries of extras and of the UI: a read command on a project that configures none of them
# (no Parquet, no S3, no dbt, no OpenLineage, no Dask) imports none (each costs 0.05-0.3 s).
NOT_ON_READ_PATHS = [
    "textual",
    "rich",
    "pyarrow",
    "numpy",
    "pandas",
    "polars",
    "dask",
    "distributed",
    "openlineage",
    "dbt",
    "fsspec",
    "s3fs",
    "networkx",
    # The read commands' usual arguments are parsed without Typer (cli/short_path.py), and
    # assets.toml validated before comes from the config cache without pydantic.
    "typer",
    "click",
    "pydantic",
    "pydantic_core",
]

STORED_PROJECT = """
[project]
name = "t"
modules = []

[assets.numbers]
sql = "select range as n from range(3)"

[assets.total]
sql = "select sum(n) as total from numbers"
checks = ["not_null(total)"]
"""


def imported_by(args: list[str], cwd: Path, modules: bool = False) -> set[str]:
    """The top-level packages ``python -X importtime -m assetflow *args`` imports (with
    ``modules``, every module)."""
    import subprocess
    import sys

    from helpers import cli_env

    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assetflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names if modules else {name.split(".")[0] for name in names}


def test_read_commands_import_no_extra_library(tmp_path: Path) -> None:
    """status, plan, list, why and runs over stored data (the damaged-data look reads the
    partitions recorded as holding data) import no pyarrow, UI or extras' library, nor Typer
    and pydantic."""
    (tmp_path / "assets.toml").write_text(STORED_PROJECT, encoding="utf-8")
    code, _, err = run_cli(["materialize"], tmp_path)
    assert code == 0, err
    # The first load after the state folder exists validates assets.toml (with pydantic) and
    # keeps it; the read commands after it find it in the config cache.
    assert "pydantic" in imported_by(["list"], tmp_path)
    for args in (["status"], ["plan"], ["list"], ["why", "total"], ["runs"]):
        imported = imported_by(args, tmp_path, modules=True)
        assert "assetflow" in imported  # the importtime report was read correctly
        packages = {name.split(".")[0] for name in imported}
        assert sorted(packages & set(NOT_ON_READ_PATHS)) == [], args
        # How steps run (and the IO managers' writing code with it) is not a read's business.
        assert "assetflow.runner.attempt" not in imported, args


# --- rendering details, in-process ------------------------------------------------------------


MERMAID_KEYWORDS = """
from assetflow import asset

@asset
def start():
    ...

@asset
def end(start):
    ...

@asset
def end_(start):
    ...
"""


@pytest.mark.usefixtures("clean_imports")
def test_mermaid_node_ids_avoid_the_end_keyword(make_project: ProjectFactory) -> None:
    """'end' is a valid asset name but a Mermaid keyword: lowercase "end" breaks a flowchart
    (mermaid.js.org/syntax/flowchart), so it must not be used as a node id."""
    from assetflow.application.project import Project
    from assetflow.cli.render import render_graph

    project = Project.load(make_project(pipeline=MERMAID_KEYWORDS.replace("def end_", "def x")))
    nodes, edges = parse_mermaid(render_graph(project.graph, project.select(), "mermaid"))
    assert len(nodes) == 3 and len(edges) == 2
    assert "end" not in nodes
    assert 'end["' not in render_graph(project.graph, project.select(), "mermaid")


@pytest.mark.usefixtures("clean_imports")
def test_mermaid_node_ids_are_unique(make_project: ProjectFactory) -> None:
    from assetflow.application.project import Project
    from assetflow.cli.render import render_graph

    project = Project.load(make_project(pipeline=MERMAID_KEYWORDS))
    text = render_graph(project.graph, project.select(), "mermaid")
    nodes, edges = parse_mermaid(text)
    assert len(nodes) == len(set(nodes)) == 3, text
    assert len(edges) == 2, text
