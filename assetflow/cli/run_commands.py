"""Commands that plan and run: ``plan``, ``materialize``, ``backfill``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

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

PartitionOption = Annotated[
    str | None, typer.Option("--partition", help="One partition key.", show_default=False)
]
FromOption = Annotated[
    str | None,
    typer.Option("--from", help="First partition key of a range (inclusive).", show_default=False),
]
ToOption = Annotated[
    str | None,
    typer.Option("--to", help="Last partition key of a range (inclusive).", show_default=False),
]
OnlyOption = Annotated[
    bool,
    typer.Option("--only", help="Leave out upstream partitions that are not fresh."),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Include selected partitions that are fresh too.")
]
FailFastOption = Annotated[
    bool, typer.Option("--fail-fast", help="Start no new step after the first failure.")
]


def _workers_in_range(value: int | None) -> int | None:
    """Refuse a --workers outside [1, MAX_WORKERS] with one line, like executor.workers."""
    if value is None:
        return None
    from assetflow.config.models import MAX_WORKERS
    from assetflow.errors import RunError

    if not 1 <= value <= MAX_WORKERS:
        raise RunError(f"--workers: expected an integer in [1, {MAX_WORKERS}], got {value}")
    return value


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        callback=_workers_in_range,
        help="Steps run in parallel (default: executor.workers).",
    ),
]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where steps run: threads, processes or dask (default: executor.kind).",
        show_default=False,
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="A Dask scheduler to run steps on, e.g. tcp://10.0.0.5:8786 (implies --executor "
        "dask; default: executor.address, else a local cluster for the run).",
        show_default=False,
    ),
]


NOTHING_TO_DO = "nothing to do: every selected partition is fresh"
_WAITING_SHOWN = 5  # waiting partitions named after a run (`status` lists them all)


def _finish(result: object, as_json: bool) -> None:
    from assetflow.cli import EXIT_FAILED
    from assetflow.records import RunStatus
    from assetflow.runner.results import RunResult

    assert isinstance(result, RunResult)
    if as_json:
        print_json(result.to_json())
    else:
        if result.run_id is None and not result.waiting:  # no run: the display said nothing
            typer.echo(NOTHING_TO_DO)
        if result.waiting:  # not steps, not failures: listed so that nobody wonders
            shown = ", ".join(result.waiting[:_WAITING_SHOWN])
            more = len(result.waiting) - _WAITING_SHOWN
            shown += f" (+{more} more)" if more > 0 else ""
            count = len(result.waiting)
            typer.echo(f"{count} partition(s) waiting for source data, not run: {shown}")
    if result.status is RunStatus.FAILED:
        raise typer.Exit(EXIT_FAILED)


@contextlib.contextmanager
def cancel_reported(as_json: bool) -> Iterator[None]:
    """Ctrl-C stopped the run: its progress display has said ``run ID cancelled: ...``, so
    exit 130 without a second "cancelled" (with --json, after the run's document)."""
    from assetflow.cli import EXIT_CANCELLED
    from assetflow.errors import RunCancelled
    from assetflow.runner.results import RunResult

    try:
        yield
    except RunCancelled as cancelled:
        if as_json and isinstance(cancelled.result, RunResult):
            print_json(cancelled.result.to_json())
        raise typer.Exit(EXIT_CANCELLED) from None


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    partition: PartitionOption = None,
    first: FromOption = None,
    last: ToOption = None,
    only: OnlyOption = False,
    force: ForceOption = False,
    every_step: Annotated[
        bool, typer.Option("--all", help="Every step on its own line (default: per asset).")
    ] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Show the steps `materialize` would run and why, with an estimated duration."""
    from assetflow.cli.render import render_plan_summary

    loaded = load_project(ctx, project)
    plan = loaded.plan(
        selection,
        exclude=exclude,
        partition=partition,
        first=first,
        last=last,
        only=only,
        force=force,
    )
    where = loaded.placement(plan, executor, address)
    if as_json:
        from assetflow.cli.streams import document_stream
        from assetflow.planner.plan_json import plan_json_chunks

        stream = document_stream()  # in pieces: a million steps are ~200 MB of text
        for chunk in plan_json_chunks(plan, {"runs_on": where}):
            stream.write(chunk)
        return
    typer.echo(plan.explain() if every_step else render_plan_summary(plan))
    elsewhere = sorted({kind for kind in where.values() if kind != "coordinator"})
    kind = loaded.workspace.with_executor(executor, address).config.executor.kind
    if where and not elsewhere and kind != "threads":
        typer.echo(f"runs in this process: every step uses the warehouse (none goes to {kind})")
    if elsewhere:
        here = [asset for asset, kind in where.items() if kind == "coordinator"]
        away = [asset for asset, kind in where.items() if kind != "coordinator"]
        typer.echo(f"runs on {elsewhere[0]}: {', '.join(away)}")
        if here:
            typer.echo(f"runs in this process (they use the warehouse): {', '.join(here)}")
    if plan.estimated_seconds is not None:
        typer.echo(f"estimated duration: {plan.estimated_seconds:.1f}s (serial, from history)")


@app.command("materialize")
def materialize_command(
    ctx: typer.Context,
    selection: SelectionArgument = None,
    exclude: ExcludeOption = None,
    partition: PartitionOption = None,
    first: FromOption = None,
    last: ToOption = None,
    only: OnlyOption = False,
    force: ForceOption = False,
    fail_fast: FailFastOption = False,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Make the selection fresh: run every stale, missing or failed partition it needs."""
    from assetflow.cli.progress import progress_for

    loaded = load_project(ctx, project)
    with cancel_reported(as_json):
        result = loaded.materialize(
            selection,
            exclude=exclude,
            partition=partition,
            first=first,
            last=last,
            only=only,
            force=force,
            fail_fast=fail_fast,
            workers=workers,
            executor=executor,
            address=address,
            observer=progress_for(as_json, workers or loaded.config.executor.workers),
        )
    _finish(result, as_json)


@app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    arguments: Annotated[
        list[str] | None,
        typer.Argument(
            help="SELECTION to backfill; or `list`, `show ID`, `resume ID`.", show_default=False
        ),
    ] = None,
    exclude: ExcludeOption = None,
    first: FromOption = None,
    last: ToOption = None,
    missing_only: Annotated[
        bool, typer.Option("--missing-only", help="Only partitions never materialized (or failed).")
    ] = False,
    stale_only: Annotated[
        bool, typer.Option("--stale-only", help="Only partitions that are not fresh.")
    ] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Also the range of every downstream asset.")
    ] = False,
    fail_fast: FailFastOption = False,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    limit: Annotated[int, typer.Option("--limit", help="With `list`: how many.")] = 20,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Re-run a partition range in order, tracked and resumable.

    \b
    assetflow backfill orders --from 2024-01-01 --to 2024-01-31
    assetflow backfill list
    assetflow backfill show ID
    assetflow backfill resume ID
    """
    from assetflow.cli.progress import progress_for
    from assetflow.cli.render_history import backfill_json, render_backfill, render_backfills
    from assetflow.errors import RunError

    words = list(arguments or [])
    loaded = load_project(ctx, project)
    if words[:1] == ["list"] and len(words) == 1:
        records = loaded.backfills(limit)
        if as_json:
            print_json({"backfills": [backfill_json(b) for b in records]})
        else:
            typer.echo(render_backfills(records))
        return
    if words[:1] in (["show"], ["resume"]):
        if len(words) != 2:
            raise RunError(f"usage: assetflow backfill {words[0]} ID")
        if words[0] == "show":
            record = loaded.backfill_record(words[1])
            if as_json:
                print_json(backfill_json(record))
            else:
                typer.echo(render_backfill(record))
            return
        with cancel_reported(as_json):
            result = loaded.resume_backfill(
                words[1],
                fail_fast=fail_fast,
                workers=workers,
                executor=executor,
                address=address,
                observer=progress_for(as_json, workers or loaded.config.executor.workers),
            )
        _finish(result, as_json)
        return
    if not words:
        raise RunError("name what to backfill: assetflow backfill SELECTION --from A --to B")
    if first is None or last is None:
        raise RunError("a backfill needs --from and --to (inclusive partition keys)")
    with cancel_reported(as_json):
        result = loaded.backfill(
            words,
            first=first,
            last=last,
            exclude=exclude,
            missing_only=missing_only,
            stale_only=stale_only,
            downstream=downstream,
            fail_fast=fail_fast,
            workers=workers,
            executor=executor,
            address=address,
            observer=progress_for(as_json, workers or loaded.config.executor.workers),
        )
    if not as_json and result.backfill_id:
        typer.echo(
            f"backfill {result.backfill_id} (resume with: assetflow backfill resume "
            f"{result.backfill_id})"
        )
    _finish(result, as_json)
