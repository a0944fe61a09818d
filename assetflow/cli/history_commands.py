"""Commands that read history: ``status``, ``why``, ``runs``, ``run show``, ``logs``,
``lineage`` and ``history prune``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from assetflow.cli import read_commands
from assetflow.cli.app import (
    DebugOption,
    ExcludeOption,
    JsonOption,
    ProjectOption,
    SelectionArgument,
    app,
    chosen_project,
    load_project,
    print_json,
)
from assetflow.cli.run_commands import FromOption, PartitionOption, ToOption

run_app = typer.Typer(help="One run: `assetflow run show ID`.", no_args_is_help=True)
history_app = typer.Typer(
    help="Manage history: `assetflow history prune --before DATE`.", no_args_is_help=True
)
app.add_typer(run_app, name="run")
app.add_typer(history_app, name="history")


@app.command("status")
def status_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    partition: PartitionOption = None,
    first: FromOption = None,
    last: ToOption = None,
    partitions: Annotated[
        bool, typer.Option("--partitions", help="One line per partition instead of per asset.")
    ] = False,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Counts per status per asset; per partition (with reasons) with --partitions."""
    read_commands.status(
        chosen_project(ctx, project),
        selection,
        exclude,
        partition,
        first,
        last,
        partitions,
        as_json,
    )


@app.command("why")
def why_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="The asset.")],
    partition: Annotated[
        str | None, typer.Argument(help="The partition key (omit for unpartitioned assets).")
    ] = None,
    every_reason: Annotated[
        bool,
        typer.Option(
            "--all", help="Every reason on its own line (default: grouped per upstream asset)."
        ),
    ] = False,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Explain a partition's status: the chain of reasons down to the root cause."""
    read_commands.why(chosen_project(ctx, project), asset, partition, every_reason, as_json)


@app.command("runs")
def runs_command(
    ctx: typer.Context,
    asset: Annotated[
        str | None, typer.Option("--asset", help="Only runs that touched this asset.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs with this status.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Recent runs, newest first, with their step counts."""
    read_commands.runs(chosen_project(ctx, project), asset, status, limit, as_json)


@run_app.command("show")
def run_show_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (or a unique prefix).")],
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """One run's steps, attempts and errors (with tracebacks)."""
    from assetflow.cli.render_history import render_run, run_detail_json

    record, steps = load_project(ctx, project).run(run_id)
    if as_json:
        print_json(run_detail_json(record, steps))
    else:
        typer.echo(render_run(record, steps))


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="The asset.")],
    partition: Annotated[str | None, typer.Argument(help="Only this partition.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="At most N records.")] = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Log records captured from an asset's materializations."""
    from assetflow.cli.render_history import log_json, render_logs

    rows = load_project(ctx, project).logs(asset, partition, run_id, limit)
    if as_json:
        print_json({"logs": [log_json(row) for row in rows]})
    else:
        typer.echo(render_logs(rows))


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="The asset.")],
    partition: Annotated[str | None, typer.Argument(help="The partition key.")] = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what it read.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what read it.")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, help="How many hops.")] = 10,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Which materializations fed which, around a partition's latest success."""
    from assetflow.cli.render_history import render_lineage

    direction = "upstream" if upstream and not downstream else "both"
    if downstream and not upstream:
        direction = "downstream"
    document = load_project(ctx, project).lineage(asset, partition, direction, depth)
    if as_json:
        print_json(document)
    else:
        typer.echo(render_lineage(document))


@history_app.command("prune")
def prune_command(
    ctx: typer.Context,
    before: Annotated[
        str, typer.Option("--before", help="Delete runs that ended before this date (YYYY-MM-DD).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete old history explicitly (a partition's latest records are always kept)."""
    from assetflow.errors import RunError

    try:
        moment = datetime.fromisoformat(before)
    except ValueError:
        raise RunError(f"--before {before!r} is not a date (expected YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    loaded = load_project(ctx, project)
    if not yes and not typer.confirm(f"Delete history of runs that ended before {before}?"):
        raise typer.Exit(1)
    counts = loaded.prune(moment)
    if as_json:
        print_json({"deleted": counts})
    else:
        typer.echo(", ".join(f"{n} {table}" for table, n in counts.items()) or "nothing deleted")
