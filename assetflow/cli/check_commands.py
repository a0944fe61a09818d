"""``assetflow checks`` (list checks with their latest results) and ``assetflow check`` (run
them on the data partitions hold now)."""

from __future__ import annotations

from typing import Any

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
from assetflow.cli.run_commands import FromOption, PartitionOption, ToOption


@app.command("checks")
def checks_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """List data quality checks with their latest results and failing partitions."""
    loaded = load_project(ctx, project)
    listing = loaded.checks(selection, exclude=exclude)
    if as_json:
        print_json({"checks": listing})
        return
    if not listing:
        typer.echo("no checks on the selected assets")
        return
    typer.echo(_render_listing(listing))


def _render_listing(listing: list[dict[str, Any]]) -> str:
    header = ("ASSET", "CHECK", "BLOCKING", "LATEST", "PARTITION", "FAILING NOW")
    rows = [header]
    for item in listing:
        latest = item["latest"]
        outcome = "-" if latest is None else ("passed" if latest["passed"] else "FAILED")
        failing = item["failing_partitions"]
        rows.append(
            (
                item["asset"],
                item["check"],
                "yes" if item["blocking"] else "no",
                outcome,
                "-" if latest is None else latest["partition"],
                str(len(failing))
                + (
                    f" ({', '.join(failing[:3])}…)"
                    if len(failing) > 3
                    else f" ({', '.join(failing)})"
                    if failing
                    else ""
                ),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@app.command("check")
def check_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    partition: PartitionOption = None,
    first: FromOption = None,
    last: ToOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Run checks on the data partitions hold now (exit 1 if any fails); results are recorded."""
    loaded = load_project(ctx, project)
    records = loaded.check(selection, exclude=exclude, partition=partition, first=first, last=last)
    failed = [r for r in records if not r.passed]
    if as_json:
        print_json(
            {
                "results": [
                    {
                        "asset": r.asset,
                        "partition": r.partition,
                        "check": r.check_name,
                        "blocking": r.blocking,
                        "passed": r.passed,
                        "metadata": dict(r.metadata),
                        "error": r.error,
                    }
                    for r in records
                ]
            }
        )
    else:
        from assetflow.runner.checking import outcome_of

        for r in records:
            mark = "passed" if r.passed else "FAILED"
            typer.echo(f"{mark:<8}{r.asset}[{r.partition}]  {r.check_name}  {outcome_of(r)}")
        typer.echo(f"{len(records)} check result(s), {len(failed)} failed")
    if failed:
        raise typer.Exit(1)
