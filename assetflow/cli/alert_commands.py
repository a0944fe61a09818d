"""``assetflow alerts test``: send a test event to every configured alert sink."""

from __future__ import annotations

import sys

import typer

from assetflow.cli.app import DebugOption, JsonOption, ProjectOption, app, load_project, print_json

alerts_app = typer.Typer(
    help="Alert sinks: `assetflow alerts test` sends a test event to each.", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test_command(
    ctx: typer.Context,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Send a test event to every [[alerts]] sink; one line per sink.

    Exit 0 if every sink accepted it, 1 if a sink could not be reached or refused it, 2 if no
    sink is configured or a sink's environment variable is not set.
    """
    from assetflow.alerts import send_test
    from assetflow.cli import EXIT_BAD_INPUT, EXIT_FAILED
    from assetflow.errors import ConfigError

    loaded = load_project(ctx, project)
    if not loaded.config.alerts:
        raise ConfigError(
            f"{loaded.config.path.name}: no [[alerts]] configured; add one, e.g. "
            '[[alerts]] kind = "slack" url_env = "SLACK_WEBHOOK_URL"'
        )
    sent = send_test(loaded)
    if as_json:
        print_json(
            {
                "deliveries": [
                    {
                        "sink": s.sink,
                        "kind": s.kind,
                        "status": "delivered" if s.delivered else "failed",
                        "attempts": s.attempts,
                        "http_status": s.http_status,
                        "error": s.error,
                    }
                    for s in sent
                ]
            }
        )
    else:
        for s in sent:
            typer.echo(s.describe())
    unset = [s for s in sent if not s.delivered and s.attempts == 0]
    if unset:
        for s in unset:
            print(f"error: alert sink {s.sink}: {s.error}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT)
    if not all(s.delivered for s in sent):
        raise typer.Exit(EXIT_FAILED)
