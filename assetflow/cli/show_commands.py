"""``assetflow show ASSET [PARTITION]``: the rows a stored partition holds (see
:mod:`assetflow.application.showing`), as a table, a JSON array of objects, or CSV."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assetflow.cli.app import DebugOption, JsonOption, ProjectOption, app, load_project, print_json


@app.command("show")
def show_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="The asset.")],
    partition: Annotated[
        str | None,
        typer.Argument(
            help="The partition key (omit for an unpartitioned asset; for a partitioned one, "
            "the latest materialized partition is shown).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show at most this many rows.", min=0)
    ] = 20,
    as_json: JsonOption = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (a header line, then the rows).")
    ] = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the rows a partition holds, read from where its IO manager stores them (the
    warehouse table or the Parquet file). --json prints a JSON array of objects, --csv CSV;
    which partition was shown, when not named, goes to stderr with those."""
    from assetflow.cli.render import table
    from assetflow.views.data import csv_text, json_value, preview_rows

    if as_json and as_csv:
        raise typer.BadParameter("give either --json or --csv, not both")
    loaded = load_project(ctx, project)
    shown = loaded.show(asset, partition, limit=limit)
    names = [name for name, _ in shown.columns]
    chosen = f"{shown.name}: the latest materialized partition" if shown.latest else shown.name
    if as_json or as_csv:
        if shown.latest:
            print(f"showing {chosen}", file=sys.stderr)
        if as_json:
            print_json([{k: json_value(v) for k, v in row.items()} for row in shown.records()])
        else:
            sys.stdout.write(csv_text(names, shown.rows))
        return
    when = shown.materialized_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    typer.echo(f"{chosen} (materialized {when}; {shown.location})")
    if shown.rows:
        typer.echo(table(names, preview_rows(shown.rows)))
    more = f"; --limit {shown.total} shows all" if len(shown.rows) < shown.total else ""
    typer.echo(f"{len(shown.rows)} of {shown.total} row(s){more}")
