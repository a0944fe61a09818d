"""``assetflow verify [SELECTION]``: fingerprint stored partitions again (see
:mod:`assetflow.application.verifying`)."""

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


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Fingerprint stored partitions again: those changed outside assetflow become stale
    (data_changed), those gone stale with data_missing; materialize makes them again."""
    from assetflow.application.verifying import verify

    loaded = load_project(ctx, project)
    results = verify(loaded.workspace, selection, exclude)
    if as_json:
        print_json({"partitions": [result.to_json() for result in results]})
        return
    counts = {"ok": 0, "changed": 0, "missing": 0, "unverifiable": 0}
    for result in results:
        counts[result.result] += 1
        if result.result in ("changed", "missing"):
            name = (
                result.asset if result.partition == "-" else f"{result.asset}[{result.partition}]"
            )
            typer.echo(f"{result.result:<8} {name}  {result.detail}")
    summary = (
        f"verified {len(results)} stored partition(s): {counts['ok']} as recorded, "
        f"{counts['changed']} changed outside assetflow, {counts['missing']} gone"
    )
    if counts["unverifiable"]:
        summary += f", {counts['unverifiable']} with their own data version (not checked)"
    if counts["changed"] or counts["missing"]:
        summary += "; `assetflow materialize` makes them again"
    typer.echo(summary)
