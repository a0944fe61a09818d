"""``assetflow ui`` (the terminal UI) and ``assetflow run rerun ID``.

Textual is imported inside the ``ui`` command only, so that every other command starts
without it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assetflow.cli.app import DebugOption, JsonOption, ProjectOption, app, load_project
from assetflow.cli.history_commands import run_app
from assetflow.cli.run_commands import WorkersOption, _finish, cancel_reported


@app.command("ui")
def ui_command(
    ctx: typer.Context,
    refresh: Annotated[
        float,
        typer.Option(
            "--refresh", min=0.2, help="Seconds between live refreshes.", show_default=True
        ),
    ] = 1.5,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """The terminal UI: asset freshness, partitions, runs and lineage (q quits, ? helps)."""
    from assetflow.tui.app import AssetflowApp

    loaded = load_project(ctx, project)
    AssetflowApp(loaded, refresh_interval=refresh).run()


@run_app.command("rerun")
def rerun_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run (id or unique prefix).")],
    workers: WorkersOption = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Materialize again the steps that failed in run ID (and what they need upstream)."""
    from assetflow.cli.progress import progress_for

    loaded = load_project(ctx, project)
    with cancel_reported(as_json):
        result = loaded.rerun_failed(
            run_id,
            workers=workers,
            observer=progress_for(as_json, workers or loaded.config.executor.workers),
        )
    _finish(result, as_json)
