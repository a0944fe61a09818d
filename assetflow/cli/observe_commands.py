"""``assetflow observe [SELECTION]``: look at sources and record what changed (see
:mod:`assetflow.application.observing`)."""

from __future__ import annotations

import typer

from assetflow.cli.app import (
    DebugOption,
    ExcludeOption,
    JsonOption,
    ProjectOption,
    SelectionArgument,
    app,
    load_project,
    print_json,
)

# Partitions named per line in the human output before the rest are only counted.
_SHOWN = 20


@app.command("observe")
def observe_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Observe sources (the selected ones and those the selected assets read; all by
    default) and record what changed: readers of a changed partition become stale
    (source_changed), readers of one not there yet wait (source_missing). Exit 1 if a
    source could not be observed."""
    from assetflow.cli import EXIT_FAILED

    loaded = load_project(ctx, project)
    observed = loaded.observe(selection, exclude=exclude)
    if as_json:
        print_json(observed.to_json())
    else:
        _print(observed)
    if observed.errors:
        raise typer.Exit(EXIT_FAILED)


def _print(observed: object) -> None:
    from assetflow.application.observing import Observed

    assert isinstance(observed, Observed)
    if not observed.observations:
        typer.echo("no sources selected")
        return
    for seen in observed.errors:
        typer.echo(f"error    {_name(seen.source, seen.partition)}  {seen.error}", err=True)
    for seen in observed.changed[:_SHOWN]:
        what = f"version {seen.data_version}" if seen.present else "not there"
        typer.echo(f"changed  {_name(seen.source, seen.partition)}  {what}")
    if len(observed.changed) > _SHOWN:
        typer.echo(f"... and {len(observed.changed) - _SHOWN} more changed")
    present = sum(1 for seen in observed.observations if seen.present)
    total = len(observed.observations)
    typer.echo(
        f"observed {total} source partition(s): {present} there, {total - present} not yet; "
        f"{len(observed.changed)} changed since the last observation"
        + (f", {len(observed.errors)} could not be observed" if observed.errors else "")
    )


def _name(source: str, partition: str) -> str:
    return source if partition == "-" else f"{source}[{partition}]"
