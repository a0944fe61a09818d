"""The ``assetflow`` command line: a thin Typer layer over :class:`assetflow.Project` (the
read commands' usual arguments are parsed without Typer: :mod:`assetflow.cli.short_path`).

``main()`` owns exit codes: 0 success, 1 a run finished with failed steps, 2 bad usage,
configuration or input (one line on stderr naming the culprit; the traceback only with
``--debug``), 130 cancelled.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``assetflow`` console script."""
    _terminate_like_interrupt()
    code = run(list(sys.argv[1:] if argv is None else argv))
    _exit_now_if_threads_linger(code)
    sys.exit(code)


def _exit_now_if_threads_linger(code: int) -> None:
    """Python waits at exit for every non-daemon thread: a step still running after a forced
    stop (Ctrl-C twice), or a thread asset code started and left running. The command is done
    and its run recorded by now: leave at once instead of hanging (the lingering step's work
    is uncommitted, as after kill -9)."""
    import os
    import threading

    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    if lingering:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _terminate_like_interrupt() -> None:
    """SIGTERM (systemd, ``kill``, a CI timeout) stops a run as Ctrl-C does: running steps are
    stopped or awaited, the run is recorded ``cancelled``, exit code 130."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Outside the main thread (embedded use) Python refuses: keep the default then.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, interrupt)
        # A shell starting a command in the background (`cmd &`, CI runners) makes it ignore
        # SIGINT, and Python keeps that: a run must still stop on SIGINT, as documented.
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run(args: list[str]) -> int:
    """Run the CLI with ``args`` and return its exit code (never raises for user errors).

    The read commands' usual arguments are parsed without Typer (see
    :mod:`assetflow.cli.short_path`); everything else goes through Typer.
    """
    from assetflow.cli.short_path import read_command

    body = read_command(args)
    return run_typer(args) if body is None else _run_guarded(args, body)


def run_typer(args: list[str]) -> int:
    """:func:`run` with every command parsed by Typer."""
    from assetflow.cli.app import app
    from assetflow.cli.compat import Abort, ClickException, Exit, get_command

    command = get_command(app)
    try:
        return _run_guarded(
            args, lambda: command.main(args=args, prog_name="assetflow", standalone_mode=False)
        )
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exit as exc:
        return int(exc.exit_code or 0)
    except Abort:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED


def _run_guarded(args: list[str], body: Callable[[], object]) -> int:
    """Run a command's ``body``: its exit code, the errors users make reported in one line."""
    from assetflow.cli.streams import stdout_for_document_only
    from assetflow.errors import AssetflowError, RunCancelled

    debug = "--debug" in args
    guard = stdout_for_document_only() if "--json" in args else contextlib.nullcontext()
    try:
        with guard:
            result = body()
    except AssetflowError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RunCancelled as cancelled:
        print(f"{cancelled}", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    return result if isinstance(result, int) else EXIT_OK
