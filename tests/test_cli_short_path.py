"""The read commands' short path (:mod:`assetflow.cli.short_path`) agrees with Typer.

``status``, ``plan``, ``list``, ``why`` and ``runs`` with their usual arguments are parsed
without Typer; anything else falls back to it. For argument lists built from the commands'
own options, values that are and are not valid, and forms the short path leaves to Typer,
``run`` (short path where it applies) and ``run_typer`` (Typer always) must print the same
stdout and stderr and return the same exit code, on a project with history.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.cli import run, run_typer
from assetflow.cli.short_path import COMMANDS, read_command

PROJECT = """
[project]
name = "t"
modules = []

[assets.days]
sql = "select {{ partition_key }}::date as day, 1 as n"
partitions = { daily = { start = "2024-01-01", end = "2024-01-06" } }
checks = ["not_null(day)"]
freshness = { max_lag = "1h" }

[assets.total]
sql = "select count(*) as total from days"
checks = ["row_count(min=1)"]

[assets.broken]
sql = "select error('boom') as x"
"""


FRAMES = re.compile(r"Traceback \(most recent call last\):\n(?:  .*\n)+")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = write_project(tmp_path_factory.mktemp("short"), PROJECT)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert run_typer(["materialize", "days", "--from", "2024-01-01", "--to", "2024-01-02"]) == 0
        assert run_typer(["materialize", "broken"]) == 1
        yield root


def both(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``run`` and ``run_typer`` give the same output and exit code for ``args`` (with
    ``--debug``, a traceback's frames differ: Typer's are not in the short path's)."""
    capsys.readouterr()
    code = run(args)
    out, err = capsys.readouterr()
    short = code, out, FRAMES.sub("Traceback\n", err)
    code = run_typer(args)
    out, err = capsys.readouterr()
    assert short == (code, out, FRAMES.sub("Traceback\n", err)), args


# Argument lists the short path must take itself.
TAKEN = [
    ["status"],
    ["status", "--json"],
    ["status", "days", "--partitions"],
    ["status", "days", "--from", "2024-01-02", "--to=2024-01-04", "--partitions", "--json"],
    ["status", "-x", "total", "--exclude=broken"],
    ["status", "--partition", "2024-01-02"],
    ["--project", ".", "status", "--debug"],
    ["-p", ".", "--debug", "list", "days+"],
    ["list", "--json"],
    ["list", "nothing_like_this"],
    ["list", "*", "-x", "days"],
    ["why", "total"],
    ["why", "days", "2024-01-03", "--all"],
    ["why", "days", "2030-01-01"],
    ["why", "days"],
    ["why", "nope", "--json"],
    ["runs"],
    ["runs", "--limit", "1", "--json"],
    ["runs", "-n", "007"],
    ["runs", "--status", "failed", "--asset=broken"],
    ["runs", "--status", "no_such_status"],
    ["plan"],
    ["plan", "days", "--from", "2024-01-03", "--only", "--force", "--all"],
    ["plan", "--executor", "processes"],
    ["plan", "--executor", "nothing"],
    ["plan", "--address", "tcp://127.0.0.1:1", "--json"],
    ["plan", "total", "-p", "assets.toml"],
]
# Forms the short path leaves to Typer (its help, messages and exit codes).
LEFT = [
    [],
    ["--help"],
    ["status", "--help"],
    ["status", "-h"],
    ["why"],
    ["why", "a", "b", "c"],
    ["runs", "--limit", "0"],
    ["runs", "--limit", "5.0"],
    ["runs", "-n3"],
    ["runs", "--limit"],
    ["status", "--json=1"],
    ["status", "--partition", "-x"],
    ["status", "--partition", "a", "--partition", "b"],
    ["status", "--", "days"],
    ["status", "--bogus"],
    ["list", "-xdays"],
    ["list", "-x=days"],
    ["--json", "list"],
    ["graph"],
    ["run", "show", "x"],
    ["plan", "--workers", "2"],
]


@pytest.mark.parametrize("args", TAKEN, ids=" ".join)
def test_the_short_path_takes_the_usual_arguments(
    args: list[str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_command(args) is not None
    both(args, capsys)


@pytest.mark.parametrize("args", LEFT, ids=lambda args: " ".join(args) or "(none)")
def test_the_short_path_leaves_other_forms_to_typer(
    args: list[str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_command(args) is None


VALUES = ["days", "total", "broken", "nope", "2024-01-02", "2024-01-09", "x", "", "3", "0"]
ODD = ["-h", "--help", "--", "-x=days", "-n2", "--limit=1", "-1", "--bogus", "5.0"]


def pieces(command: str) -> st.SearchStrategy[list[str]]:
    """One option of ``command`` with a value (if it takes one), a positional value, or
    (rarely) a form the short path leaves to Typer."""
    options = COMMANDS[command][1]
    flags = sorted(name for name, (kind, _) in options.items() if kind == "flag")
    valued = sorted(name for name, (kind, _) in options.items() if kind != "flag")
    value = st.sampled_from(VALUES)
    return st.one_of(
        st.sampled_from(flags).map(lambda name: [name]),
        st.tuples(st.sampled_from(valued), value).map(list),
        st.tuples(st.sampled_from(valued), value).map(lambda pair: ["=".join(pair)]),
        value.map(lambda text: [text]),
        st.sampled_from(ODD).map(lambda text: [text]),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    prefix=st.sampled_from([[], ["--debug"], ["-p", "."], ["--project=."]]),
    command=st.sampled_from(sorted(COMMANDS)),
    data=st.data(),
)
def test_the_short_path_and_typer_agree_on_generated_arguments(
    prefix: list[str],
    command: str,
    data: st.DataObject,
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rest = data.draw(st.lists(pieces(command), max_size=4))  # ~40% taken by the short path
    both([*prefix, command, *(token for piece in rest for token in piece)], capsys)
