"""Every bad input meets the real CLI and gets exit code 2 and one line naming the culprit.

Each case of ``CASES`` (the issue's list) runs ``python -m assetflow ...`` as a subprocess in a
project written into ``tmp_path`` and asserts: exit code 2, nothing on stdout, no traceback on
stderr, one line on stderr, and every culprit (asset names, key path, file and line, partition
key, suggestion) in it. ``MORE_CASES`` (variants) get the same checks through the CLI's
``run()`` in-process, as do a few precise checks of messages, to keep the suite fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import PROJECT_HEADER, ProjectFactory, run_cli

from assetflow.errors import AssetflowError, ProjectLoadError

# --- Projects the cases are built from --------------------------------------------------------

IMPORTS = (
    "from assetflow import (asset, DailyPartitions, RetryPolicy, StaticPartitions,\n"
    "                       TimeWindowMapping)\n"
)

# A small valid project: orders is daily over January and February 2024.
SHOP = (
    IMPORTS
    + """
DAYS = DailyPartitions(start="2024-01-01", end="2024-03-01")

@asset(partitions=DAYS, tags={"domain": "sales"})
def orders():
    ...

@asset(partitions=DAYS)
def orders_cleaned(orders):
    ...

@asset
def customers():
    ...
"""
)

CYCLE = (
    IMPORTS
    + """
@asset
def alpha(gamma):
    ...

@asset
def beta(alpha):
    ...

@asset
def gamma(beta):
    ...
"""
)


@dataclass(frozen=True)
class Case:
    """One bad input: the project, the command that meets it, what stderr must name."""

    args: list[str]
    culprits: list[str]
    pipeline: str = SHOP
    toml: str = PROJECT_HEADER
    modules: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # -- the graph ---------------------------------------------------------------------------
    "dependency cycle": Case(
        ["list"], ["dependency cycle", "alpha", "beta", "gamma"], pipeline=CYCLE
    ),
    "unknown upstream, with a suggestion": Case(
        ["list"],
        ["orders_by_day", "'ordrs'", "did you mean: orders"],
        pipeline=SHOP + "\n@asset\ndef orders_by_day(ordrs):\n    ...\n",
    ),
    "two Python assets with one name in two modules": Case(
        ["list"],
        ["two assets are named 'orders'", "first.orders", "second.orders"],
        toml=PROJECT_HEADER.replace('["pipeline"]', '["first", "second"]'),
        modules={
            "first.py": IMPORTS + "@asset\ndef orders():\n    ...\n",
            "second.py": IMPORTS + "@asset\ndef orders():\n    ...\n",
        },
    ),
    "a Python asset and a SQL asset with one name": Case(
        ["list"],
        ["two assets are named 'customers'", "pipeline.customers", "[assets.customers]"],
        toml=PROJECT_HEADER + '[assets.customers]\nsql = "select 1 as id"\n',
    ),
    "invalid asset name in Python": Case(
        ["list"],
        ["'2fast'", "not a valid asset name", "pipeline.fast"],
        pipeline=IMPORTS + '@asset(name="2fast")\ndef fast():\n    ...\n',
    ),
    "self-dependency without a mapping": Case(
        ["list"],
        ["'running_total'", "depends on itself", "negative offset"],
        pipeline=SHOP
        + "\n@asset(partitions=DAYS)\ndef running_total(orders, running_total):\n    ...\n",
    ),
    # -- assets.toml -------------------------------------------------------------------------
    "malformed TOML": Case(
        ["list"],
        ["assets.toml", "invalid TOML", "line 5"],
        toml=PROJECT_HEADER + "\n[storage\nstate = 'x'\n",
    ),
    "unknown key, with a suggestion": Case(
        ["list"],
        ["assets.toml", "assets.revenue.retries.dealy", "unknown key", "did you mean 'delay'"],
        toml=PROJECT_HEADER
        + '[assets.revenue]\nsql = "select 1"\nretries = { max_retries = 1, dealy = 2.0 }\n',
    ),
    "wrong type": Case(
        ["list"],
        ["assets.toml", "executor.workers", "expected an integer", "'4'"],
        toml=PROJECT_HEADER + '[executor]\nworkers = "4"\n',
    ),
    "override for an asset nobody declares": Case(
        ["list"],
        ["assets.toml", "[assets.ordrs]", "did you mean: orders"],
        toml=PROJECT_HEADER + "[assets.ordrs]\nretries = { max_retries = 2 }\n",
    ),
    "undeclared pool on a Python asset": Case(
        ["list"],
        ["'enrich'", "pool 'api'", "[pools]"],
        pipeline=SHOP + '\n@asset(pool="api")\ndef enrich(customers):\n    ...\n',
        toml=PROJECT_HEADER + "[pools]\nwarehouse = 2\n",
    ),
    "unknown project timezone": Case(
        ["list"],
        ["assets.toml", "project.timezone", "'Europe/Pariss'", "Europe/Paris"],
        toml=PROJECT_HEADER + 'timezone = "Europe/Pariss"\n',
    ),
    "unknown timezone of a TOML partition definition": Case(
        ["graph"],
        ["assets.toml", "assets.daily.partitions.daily.timezone", "'Asia/Seol'", "Asia/Seoul"],
        toml=PROJECT_HEADER
        + '[assets.daily]\nsql = "select 1"\n'
        + 'partitions = { daily = { start = "2024-01-01", timezone = "Asia/Seol" } }\n',
    ),
    "invalid cron of a schedule": Case(
        ["list"],
        ["assets.toml", "schedules.nightly.cron", "'0 25 * * *'"],
        toml=PROJECT_HEADER + '[schedules.nightly]\ncron = "0 25 * * *"\nselect = "*"\n',
    ),
    # -- partition keys and ranges -----------------------------------------------------------
    "partition key that does not parse": Case(
        ["partitions", "orders", "--partition", "2024-13-45"], ["'2024-13-45'", "YYYY-MM-DD"]
    ),
    "partition key before the start": Case(
        ["partitions", "orders", "--partition", "2023-12-31"], ["'2023-12-31'", "2024-01-01"]
    ),
    "--from after --to": Case(
        ["partitions", "orders", "--from", "2024-02-10", "--to", "2024-02-01"],
        ["2024-02-10", "2024-02-01", "after"],
    ),
    "--partition together with --from": Case(
        ["partitions", "orders", "--partition", "2024-02-10", "--from", "2024-02-01"],
        ["--partition", "--from"],
    ),
    # -- selections --------------------------------------------------------------------------
    "unknown selection name in list": Case(["list", "ordrs"], ["'ordrs'", "did you mean: orders"]),
    # -- modules -----------------------------------------------------------------------------
    "module raising at import": Case(
        ["list"],
        ["'pipeline'", "ZeroDivisionError", "division by zero", "pipeline.py, line 3"],
        pipeline=IMPORTS + "RATE = 1 / 0\n",
    ),
    "module not found": Case(
        ["list"],
        ["'pipelines'", "not found"],
        toml=PROJECT_HEADER.replace('"pipeline"', '"pipelines"'),
    ),
    "module with a syntax error": Case(
        ["list"],
        ["'pipeline'", "SyntaxError", "pipeline.py", "line 4"],
        pipeline=IMPORTS + "\ndef broken(:\n    pass\n",
    ),
}

# The same checks for more variants, through the CLI's run() in-process (no process start-up).
MORE_CASES: dict[str, Case] = {
    "dependency cycle through a SQL asset": Case(
        ["graph"],
        ["dependency cycle", "report", "summary"],
        pipeline=IMPORTS + "@asset\ndef report(summary):\n    ...\n",
        toml=PROJECT_HEADER + '[assets.summary]\nsql = "select * from report"\n',
    ),
    "unknown upstream of a SQL asset": Case(
        ["list"],
        ["'revenue'", "'custmers'", "did you mean: customers"],
        toml=PROJECT_HEADER + '[assets.revenue]\nsql = "select 1"\ndeps = ["custmers"]\n',
    ),
    "two assets with one name in one module": Case(
        ["list"],
        ["two assets are named 'orders'", "pipeline.orders", "pipeline.orders_again"],
        pipeline=SHOP + '\n@asset(name="orders")\ndef orders_again():\n    ...\n',
    ),
    "invalid asset name in assets.toml": Case(
        ["list"],
        ["assets.toml", "'daily-revenue'", "invalid asset name"],
        toml=PROJECT_HEADER + '[assets."daily-revenue"]\nsql = "select 1"\n',
    ),
    "self-dependency with a zero offset": Case(
        ["graph"],
        ["'running_total'", "depends on itself", "negative offset"],
        pipeline=SHOP
        + "\n@asset(partitions=DAYS, deps={'running_total': TimeWindowMapping(0, 0)})"
        + "\ndef running_total(running_total):\n    ...\n",
    ),
    "unknown top-level table": Case(
        ["list"],
        ["assets.toml", "projct", "did you mean 'project'"],
        toml=PROJECT_HEADER + '[projct]\nname = "x"\n',
    ),
    "unknown timezone of a Python partition definition": Case(
        ["list"],
        ["'Europe/Pariss'", "Europe/Paris", "pipeline.py, line 3"],
        pipeline=IMPORTS
        + '@asset(partitions=DailyPartitions(start="2024-01-01", timezone="Europe/Pariss"))\n'
        + "def orders():\n    ...\n",
    ),
    "invalid cron of a Python asset": Case(
        ["list"],
        ["'hourly_sync'", "'every day'", "cron"],
        pipeline=IMPORTS + '@asset(schedule="every day")\ndef hourly_sync():\n    ...\n',
    ),
    "partition key at the exclusive end": Case(
        ["partitions", "orders", "--partition", "2024-03-01"], ["'2024-03-01'", "end"]
    ),
    "--to outside the definition": Case(
        ["partitions", "orders", "--from", "2024-02-01", "--to", "2024-05-01"], ["'2024-05-01'"]
    ),
    "--from that does not parse": Case(
        ["partitions", "orders", "--from", "yesterday", "--to", "2024-02-01"], ["'yesterday'"]
    ),
    "static partition key outside the list": Case(
        ["partitions", "regions", "--partition", "asia"],
        ["'asia'", "eu", "us"],
        pipeline=IMPORTS
        + '@asset(partitions=StaticPartitions(["eu", "us"]))\ndef regions():\n    ...\n',
    ),
    "unknown selection name in graph, with operators": Case(
        ["graph", "+ordrs_cleaned+"], ["'ordrs_cleaned'", "orders_cleaned"]
    ),
    "unknown asset of partitions": Case(
        ["partitions", "custmers"], ["'custmers'", "did you mean: customers"]
    ),
    "unknown group": Case(["list", "group:finanse"], ["'finanse'"]),
    "module raising deep inside the project": Case(
        ["list"],
        ["'pipeline'", "KeyError", "'missing'", "settings.py, line 2"],
        pipeline=IMPORTS + "from settings import VALUE\n",
        modules={"settings.py": "CONFIG = {}\nVALUE = CONFIG['missing']\n"},
    ),
    "module importing a missing package": Case(
        ["list"],
        ["'pipeline'", "ModuleNotFoundError", "no_such_package_xyz", "pipeline.py, line 1"],
        pipeline="import no_such_package_xyz\n",
    ),
}


def assert_bad_input(result: tuple[int, str, str], culprits: list[str]) -> str:
    """Exit code 2, empty stdout, one error line without a traceback, naming every culprit."""
    code, out, err = result
    assert code == 2, f"exit code {code}; stderr:\n{err}"
    assert out == "", f"stdout should be empty, got:\n{out}"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for culprit in culprits:
        assert culprit in err, f"{culprit!r} not named in: {err}"
    return err


CliRunner = Callable[[list[str], Path], tuple[int, str, str]]


@pytest.fixture
def cli_in_process(
    clean_imports: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CliRunner:
    """``assetflow.cli.run(args)`` in ``cwd``, in this process: (exit code, stdout, stderr)."""
    from assetflow.cli import run

    def invoke(args: list[str], cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_exits_2_naming_the_culprit(case: Case, make_project: ProjectFactory) -> None:
    root = make_project(case.toml, {"pipeline.py": case.pipeline, **case.modules})
    assert_bad_input(run_cli(case.args, root), case.culprits)


@pytest.mark.parametrize("case", list(MORE_CASES.values()), ids=list(MORE_CASES))
def test_more_bad_input_in_process(
    case: Case, make_project: ProjectFactory, cli_in_process: CliRunner
) -> None:
    root = make_project(case.toml, {"pipeline.py": case.pipeline, **case.modules})
    assert_bad_input(cli_in_process(case.args, root), case.culprits)


def test_debug_shows_the_traceback(make_project: ProjectFactory) -> None:
    root = make_project(pipeline=CYCLE)
    code, out, err = run_cli(["--debug", "list"], root)
    assert code == 2
    assert out == ""
    assert "Traceback (most recent call last)" in err
    assert "GraphError" in err
    assert err.strip().splitlines()[-1].startswith("error: dependency cycle")


def test_no_assets_toml_anywhere(tmp_path: Path, cli_in_process: CliRunner) -> None:
    err = assert_bad_input(
        cli_in_process(["list"], tmp_path), ["no assets.toml found", "--project"]
    )
    assert str(tmp_path.resolve()) in err


def test_project_path_that_does_not_exist(tmp_path: Path, cli_in_process: CliRunner) -> None:
    missing = tmp_path / "nowhere"
    assert_bad_input(cli_in_process(["--project", str(missing), "list"], tmp_path), [str(missing)])


def test_init_refuses_a_file_as_folder(tmp_path: Path, cli_in_process: CliRunner) -> None:
    (tmp_path / "taken").write_text("not a folder\n")
    assert_bad_input(cli_in_process(["init", "taken"], tmp_path), ["taken", "not a folder"])


def test_bad_usage_is_exit_2(make_project: ProjectFactory, cli_in_process: CliRunner) -> None:
    """Click's own usage errors (an unknown --format) also exit 2, without a traceback."""
    code, out, err = cli_in_process(["graph", "--format", "svg"], make_project(pipeline=SHOP))
    assert code == 2
    assert out == ""
    assert "svg" in err
    assert "Traceback" not in err


# --- Message details, in-process ---------------------------------------------------------------


def load_error(root: Path) -> AssetflowError:
    from assetflow.application.project import Project

    with pytest.raises(AssetflowError) as caught:
        Project.load(root)
    return caught.value


@pytest.mark.usefixtures("clean_imports")
def test_import_failure_is_chained_for_debug(make_project: ProjectFactory) -> None:
    """The user's own exception stays reachable (``--debug`` shows it), the message is short."""
    error = load_error(make_project(pipeline="RATE = 1 / 0\n"))
    assert isinstance(error, ProjectLoadError)
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert "\n" not in str(error)


@pytest.mark.usefixtures("clean_imports")
def test_syntax_error_location_is_named_once(make_project: ProjectFactory) -> None:
    """str(SyntaxError) already ends with "(file, line N)": it must not appear twice."""
    error = load_error(make_project(pipeline="x = 1\n\ndef broken(:\n    pass\n"))
    assert str(error).count("line 3") == 1, str(error)


@pytest.mark.usefixtures("clean_imports")
@pytest.mark.parametrize(
    "statement",
    [
        'DAYS = DailyPartitions(start="2024-01-01", timezone="Europe/Pariss")',
        "RETRIES = RetryPolicy(max_retries=-1)",
    ],
    ids=["timezone", "retry-policy"],
)
def test_declaration_error_at_import_names_the_module(
    statement: str, make_project: ProjectFactory
) -> None:
    """A bad declaration at module level has no asset name yet: the module and line say where."""
    error = load_error(make_project(pipeline=IMPORTS + "\n" + statement + "\n"))
    assert "pipeline.py" in str(error) and "line 4" in str(error), str(error)


def test_debug_after_the_subcommand(
    make_project: ProjectFactory, cli_in_process: CliRunner
) -> None:
    """``--debug`` works after the subcommand too, as ``--project`` does."""
    root = make_project(pipeline=CYCLE)
    code, out, err = cli_in_process(["list", "--debug"], root)
    assert code == 2
    assert out == ""
    assert "Traceback" in err, err
    assert err.strip().splitlines()[-1].startswith("error: dependency cycle")


# --- Input that must be refused (issue 13, item 11), through the real CLI ---------------------

STATIC = IMPORTS + "@asset(partitions=StaticPartitions({keys}))\ndef regions():\n    ...\n"
STATIC_TOML = (
    PROJECT_HEADER + '[assets.regions]\nsql = "select 1"\npartitions = {{ static = {keys} }}\n'
)
NEVER = '[schedules.never]\ncron = "0 0 31 2 *"\nselect = "*"\n'

REFUSED: dict[str, Case] = {
    "cron that never fires (Feb 31), list": Case(
        ["list"],
        ["assets.toml", "schedules.never.cron", "'0 0 31 2 *'", "never fires"],
        toml=PROJECT_HEADER + NEVER,
    ),
    "cron that never fires, schedules": Case(
        ["schedules"], ["schedules.never.cron", "never fires"], toml=PROJECT_HEADER + NEVER
    ),
    "cron that never fires, scheduler --once": Case(
        ["scheduler", "--once"],
        ["schedules.never.cron", "never fires"],
        toml=PROJECT_HEADER + NEVER,
    ),
    "cron of a Python asset that never fires (Apr 31)": Case(
        ["list"],
        ["'monthly_report'", "'0 6 31 4 *'", "never fires"],
        pipeline=IMPORTS + '@asset(schedule="0 6 31 4 *")\ndef monthly_report():\n    ...\n',
    ),
    "runs --status bogus": Case(
        ["runs", "--status", "bogus"],
        ["'bogus'", "running", "success", "failed", "cancelled", "crashed"],
    ),
    "static key '-' in Python": Case(
        ["list"],
        ["'-'", "unpartitioned", "pipeline.py"],
        pipeline=STATIC.format(keys='["eu", "-"]'),
    ),
    "static key holding a newline in Python": Case(
        ["list"],
        ["'eu\\nwest'", "control character", "pipeline.py"],
        pipeline=STATIC.format(keys='["eu\\nwest"]'),
    ),
    "static key '-' in assets.toml": Case(
        ["list"],
        ["assets.toml", "assets.regions.partitions.static[1]", "'-'", "unpartitioned"],
        toml=STATIC_TOML.format(keys='["eu", "-"]'),
    ),
    "static key holding a newline in assets.toml": Case(
        ["list"],
        ["assets.toml", "assets.regions.partitions.static[0]", "'eu\\nwest'", "control character"],
        toml=STATIC_TOML.format(keys='["eu\\nwest"]'),
    ),
    "workers = 10**26": Case(
        ["list"],
        ["assets.toml", "executor.workers", "[1, 1024]", "100000000000000000000000000"],
        toml=PROJECT_HEADER + "[executor]\nworkers = 100000000000000000000000000\n",
    ),
    "--workers 10**26 on the command line": Case(
        ["materialize", "customers", "--workers", "100000000000000000000000000"],
        ["--workers", "1024"],
    ),
}

# Every command taking a selection refuses an empty one instead of selecting every asset.
EMPTY_SELECTION: dict[str, list[str]] = {
    "backfill": ["backfill", "", "--from", "2024-01-01", "--to", "2024-01-02"],
    "materialize": ["materialize", ""],
    "materialize of blanks": ["materialize", "  "],
    "plan": ["plan", ""],
    "status": ["status", ""],
    "list": ["list", ""],
    "graph": ["graph", ""],
    "checks": ["checks", ""],
    "check": ["check", ""],
    "--exclude": ["materialize", "--exclude", ""],
    "an empty term among others": ["materialize", "orders", ""],
}


@pytest.mark.parametrize("case", list(REFUSED.values()), ids=list(REFUSED))
def test_refused_input_exits_2_naming_the_culprit(case: Case, make_project: ProjectFactory) -> None:
    root = make_project(case.toml, {"pipeline.py": case.pipeline, **case.modules})
    assert_bad_input(run_cli(case.args, root), case.culprits)


@pytest.mark.parametrize("args", list(EMPTY_SELECTION.values()), ids=list(EMPTY_SELECTION))
def test_empty_selection_is_refused(args: list[str], make_project: ProjectFactory) -> None:
    root = make_project(pipeline=SHOP)
    assert_bad_input(run_cli(args, root), ["empty selection"])
    assert not (root / ".assetflow").exists(), "nothing ran, nothing was recorded"


def test_assets_toml_with_a_byte_order_mark_is_read(make_project: ProjectFactory) -> None:
    """Windows editors save UTF-8 with a BOM; the file is read as if it had none."""
    root = make_project(pipeline=SHOP)
    toml = root / "assets.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    code, out, err = run_cli(["list"], root)
    assert (code, err) == (0, ""), err
    assert "orders_cleaned" in out
