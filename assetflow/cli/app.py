"""Typer wiring: options and arguments in, calls on :class:`Project`, rendering out.

Heavy modules (pydantic, networkx, duckdb) are imported inside the commands, so that
``assetflow --help`` stays fast. The read commands' bodies are in
:mod:`assetflow.cli.read_commands`, shared with the short path that parses their usual
arguments without Typer (:mod:`assetflow.cli.short_path`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assetflow.cli import read_commands
from assetflow.cli.read_commands import print_json as print_json

if TYPE_CHECKING:
    from assetflow.application.project import Project

app = typer.Typer(
    name="assetflow",
    help=(
        "assetflow: declare data assets, and let it work out what is stale and run it.\n\n"
        "Selections are dbt-like: NAME, +NAME (with upstream), NAME+ (with downstream), "
        "2+NAME, tag:KEY=VALUE, group:NAME, '*'."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Path to assets.toml or its folder (default: looked up from the current folder).",
        show_default=False,
    ),
]
# Read by cli.run() from argv, so that it works before and after the subcommand.
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks for errors.", show_default=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout.", show_default=False)
]
SelectionArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Assets to include (selection syntax; default: all).", show_default=False),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude", "-x", help="Assets to leave out (selection syntax).", show_default=False
    ),
]


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    text = "text"


@app.callback()
def _global_options(
    ctx: typer.Context, project: ProjectOption = None, debug: DebugOption = False
) -> None:
    ctx.obj = {"project": project, "debug": debug}


def chosen_project(ctx: typer.Context, project: Path | None) -> Path | None:
    """The command's ``--project``, else the one given before the command."""
    chosen: Path | None = project if project is not None else (ctx.obj or {}).get("project")
    return chosen


def load_project(ctx: typer.Context, project: Path | None) -> Project:
    return read_commands.load(chosen_project(ctx, project))


@app.command("init")
def init_command(
    directory: Annotated[
        Path, typer.Argument(help="Folder to create the project in (default: here).")
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option(help="Project name (default: the folder's name).")
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Write a small working project: assets.toml and one module of assets."""
    from assetflow.cli.scaffold import write_project

    written = write_project(directory, name)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: cd {directory} && assetflow list")


@app.command("list")
def list_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """List assets with their partitions, dependencies, group, tags and schedule."""
    read_commands.list_assets(chosen_project(ctx, project), selection, exclude, as_json)


@app.command("graph")
def graph_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GraphFormat.text,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the asset graph as Mermaid, Graphviz dot, or text."""
    from assetflow.cli.render import render_graph

    loaded = load_project(ctx, project)
    names = loaded.select(selection, exclude)
    typer.echo(render_graph(loaded.graph, names, fmt.value))


@app.command("partitions")
def partitions_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="The asset whose partitions to list.")],
    partition: Annotated[
        str | None, typer.Option("--partition", help="One partition key.", show_default=False)
    ] = None,
    first: Annotated[
        str | None,
        typer.Option("--from", help="First partition key (inclusive).", show_default=False),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help="Last partition key (inclusive).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """List an asset's due partition keys and their time windows."""
    from assetflow.cli.render import partition_records, render_partitions

    loaded = load_project(ctx, project)
    keys = loaded.partition_keys(asset, partition, first, last)
    records = partition_records(loaded.asset(asset).partitions, keys)
    if as_json:
        print_json({"asset": asset, "partitions": records})
    else:
        typer.echo(render_partitions(records))


# Register the commands defined in other modules (they import this one for `app`).
from assetflow.cli import (  # noqa: E402, F401
    alert_commands,
    check_commands,
    history_commands,
    observe_commands,
    run_commands,
    schedule_commands,
    show_commands,
    ui_command,
    verify_commands,
)
