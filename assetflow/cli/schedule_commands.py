"""``assetflow scheduler`` (the loop, or ``--once``) and ``assetflow schedules`` (a listing)."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from assetflow.cli.app import DebugOption, JsonOption, ProjectOption, app, load_project, print_json


def _parse_clock_start(value: str | None) -> datetime | None:
    from assetflow.errors import AssetflowError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise AssetflowError(
            f"--clock-start: expected an ISO time with a UTC offset like "
            f"2024-01-02T02:59:50+09:00, got {value!r}"
        )
    return moment


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[list[str]]:
    """SIGINT/SIGTERM set ``stop`` (a second one stops at once); yields the signals seen."""
    seen: list[str] = []
    previous: dict[signal.Signals, Any] = {}

    def note(signum: int, frame: object) -> None:
        seen.append(signal.Signals(signum).name)
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()  # no logging here: a handler must not take the logging lock

    with contextlib.suppress(ValueError):  # not the main thread (embedded use): no handlers
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, note)
    try:
        yield seen
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _configure_logging(verbose: bool) -> logging.Logger:
    from assetflow.scheduling.scheduler import LOGGER

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(logging.DEBUG if verbose else logging.INFO)
    LOGGER.propagate = False
    return LOGGER


@app.command("scheduler")
def scheduler_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Evaluate what is due now, then exit (for cron or systemd)."),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.1,
            help="Seconds between looks at eager automation and freshness between ticks.",
        ),
    ] = 60.0,
    clock_start: Annotated[
        str | None,
        typer.Option(
            "--clock-start",
            help=(
                "Rehearse: run the scheduler's clock from this time (ISO with UTC offset) at "
                "real speed. Runs and ticks are recorded for real."
            ),
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """Run schedules, eager automation and freshness checks until stopped (SIGINT/SIGTERM).

    Logs to stderr. Exit code 0 after a requested stop (a run in progress is cancelled first);
    with --once, 1 if a run it started failed.
    """
    from assetflow.cli import EXIT_FAILED
    from assetflow.scheduling import Scheduler, ShiftedClock, SystemClock

    start = _parse_clock_start(clock_start)
    loaded = load_project(ctx, project)
    logger = _configure_logging(verbose)
    stop = threading.Event()
    clock = ShiftedClock(start) if start is not None else SystemClock()
    scheduler = Scheduler(loaded, clock=clock, stop=stop, interval=interval, logger=logger)
    evaluation = None
    with _stop_on_signals(stop) as seen:
        if once:
            evaluation = scheduler.evaluate()
        else:
            scheduler.run_forever()
    if seen:
        logger.info("stopped on %s", seen[0])
    if evaluation is not None and not stop.is_set() and evaluation.failed:
        raise typer.Exit(EXIT_FAILED)


@app.command("schedules")
def schedules_command(
    ctx: typer.Context,
    as_json: JsonOption = False,
    project: ProjectOption = None,
    debug: DebugOption = False,
) -> None:
    """List schedules with their last claimed tick and their next tick."""
    from assetflow.records import utcnow
    from assetflow.scheduling import next_tick
    from assetflow.store.ticks import TickRecord

    loaded = load_project(ctx, project)
    now = utcnow()
    last: dict[str, TickRecord] = {}
    for tick in loaded.store.ticks(limit=10_000):
        last.setdefault(tick.schedule, tick)
    records: list[dict[str, Any]] = []
    for spec in loaded.schedules():
        record: dict[str, Any] = dict(spec.to_json())
        previous = last.get(spec.name)
        record["last_tick"] = None if previous is None else previous.to_json()
        following = next_tick(spec.cron, spec.timezone, now) if spec.enabled else None
        record["next_tick"] = None if following is None else following.isoformat()
        records.append(record)
    if as_json:
        print_json({"schedules": records})
        return
    if not records:
        typer.echo("no schedules")
        return
    for record in records:
        state = "" if record["enabled"] else " (disabled)"
        shown: dict[str, Any] | None = record["last_tick"]
        typer.echo(
            f"{record['name']}{state}: {record['cron']} {record['timezone']}: {record['select']}"
        )
        if shown is not None:
            # Stored in UTC; shown in the schedule's timezone, as the next tick is.
            at = datetime.fromisoformat(shown["tick"]).astimezone(ZoneInfo(record["timezone"]))
            typer.echo(
                f"  last tick {at.isoformat()}: {shown['status']}"
                + (f" (run {shown['run_id']})" if shown["run_id"] else "")
            )
        if record["next_tick"] is not None:
            typer.echo(f"  next tick {record['next_tick']}")
