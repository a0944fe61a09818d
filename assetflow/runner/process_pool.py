"""The ``processes`` executor: attempts on a pool of local worker processes.

Each worker is a spawned process (spawn-safe: nothing is inherited but the arguments) that
imports the project once and then performs one attempt at a time, sent and answered over its
own pipe. The coordinator knows which worker runs which attempt, so:

- a worker that dies mid-attempt (kill -9, out of memory) fails that attempt with reason
  ``worker lost`` and is replaced; the retry policy decides whether it runs again;
- an attempt past its asset's timeout is failed at the timeout and its worker stopped and
  replaced, so no runaway work goes on in the background (threads cannot do that);
- workers ignore Ctrl-C (the coordinator decides how a run stops) and die with the
  coordinator, even when it is killed with kill -9.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from assetflow.errors import RunError
from assetflow.runner.attempt import AttemptOutcome, AttemptSpec
from assetflow.runner.executors import TIMEOUT_GRACE_S, lost, timed_out

if TYPE_CHECKING:
    from assetflow.definitions.assets import AssetDef

__all__ = ["ProcessPool"]

# How long a new worker may take to import the project before the run gives up on it.
START_TIMEOUT_S = 120.0
_POLL_S = 0.2


def worker_main(config_path: str, conn: Connection, parent: int) -> None:
    """A worker process: import the project, then perform attempts until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    _die_with(parent)
    # Nothing a worker prints may reach the coordinator's stdout (a --json document).
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from assetflow.runner.remote import perform_remote, preflight

    problem = preflight(config_path)
    conn.send(("ready", None) if problem is None else ("error", problem))
    if problem is not None:
        return
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return  # the coordinator is gone
        if spec is None:
            return
        outcome = perform_remote(config_path, spec)
        try:
            conn.send(("done", outcome))
        except (EOFError, OSError):
            return  # the coordinator is gone
        except Exception as exc:  # cannot be pickled after all: say so, as a failed attempt
            conn.send(("done", unsendable(outcome, exc)))


def unsendable(outcome: AttemptOutcome, exc: Exception) -> AttemptOutcome:
    """A failed outcome saying why ``outcome`` could not be sent back (its logs kept)."""
    from dataclasses import replace

    from assetflow.records import StepStatus
    from assetflow.text import describe_exception, storable_text

    return replace(
        outcome,
        status=StepStatus.FAILED,
        error=f"the attempt's outcome cannot be sent back: {describe_exception(exc)}",
        traceback=None,
        metadata={},
        checks=(),
        logs=tuple(replace(log, message=storable_text(log.message)) for log in outcome.logs),
    )


def _die_with(parent: int) -> None:
    """End this process when the coordinator ends, however it ends."""
    with contextlib.suppress(Exception):  # Linux: the kernel does it at once
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:  # elsewhere, within a second
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="assetflow-parent-watch", daemon=True).start()


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection

    @property
    def name(self) -> str:
        return f"worker process {self.process.pid}"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


class ProcessPool:
    """``size`` worker processes for one run (see the module docstring)."""

    kind = "processes"

    def __init__(self, config_path: str, size: int) -> None:
        self.config_path = config_path
        self.size = max(1, size)
        self.details = {"executor": "processes", "workers": str(self.size)}
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        starting = [self._spawn() for _ in range(self.size)]
        try:
            for worker in starting:  # they import the project at the same time
                self._await_ready(worker)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> _Worker:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            args=(self.config_path, theirs, os.getpid()),
            name="assetflow-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        worker = _Worker(process, mine)
        with self._lock:
            self._all.append(worker)
        return worker

    def _await_ready(self, worker: _Worker) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not worker.conn.poll(_POLL_S):
            if not worker.process.is_alive() or time.monotonic() > deadline:
                raise RunError(f"{worker.name} did not start (exit code {worker.process.exitcode})")
        try:
            kind, problem = worker.conn.recv()
        except (EOFError, OSError) as exc:
            raise RunError(f"{worker.name} did not start: {exc}") from None
        if kind != "ready":
            raise RunError(f"{worker.name} cannot run the project's steps: {problem}")

    def _replace(self, worker: _Worker) -> None:
        """Stop ``worker`` and put a fresh one in its place (in the background)."""
        worker.stop()

        def start() -> None:
            if self._closed:
                return
            try:
                fresh = self._spawn()
                self._await_ready(fresh)
            except Exception:
                self._idle.put(worker)  # a dead worker: the next attempt reports it lost
                return
            self._idle.put(fresh)

        threading.Thread(target=start, name="assetflow-worker-start", daemon=True).start()

    def run(self, spec: AttemptSpec, definition: AssetDef) -> AttemptOutcome:
        worker = self._idle.get()
        name = worker.name
        try:
            worker.conn.send(spec)
        except (OSError, ValueError) as exc:
            self._replace(worker)
            return lost(spec, definition, f"{name} could not be reached ({exc})", name)
        limit = definition.timeout.total_seconds() if definition.timeout is not None else None
        deadline = None if limit is None else time.monotonic() + limit + TIMEOUT_GRACE_S
        while True:
            if worker.conn.poll(_POLL_S):
                try:
                    _, outcome = worker.conn.recv()
                except (EOFError, OSError):
                    break  # died while answering
                if outcome.timed_out:  # its function may still run there: start afresh
                    self._replace(worker)
                else:
                    self._idle.put(worker)
                return outcome  # type: ignore[no-any-return]
            if not worker.process.is_alive():
                break
            if deadline is not None and time.monotonic() > deadline:
                self._replace(worker)
                return timed_out(spec, definition, limit or 0.0, name)
        code = worker.process.exitcode
        self._replace(worker)
        return lost(spec, definition, f"{name} ended (exit code {code})", name)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.stop()
            with contextlib.suppress(Exception):
                worker.conn.close()

    def __repr__(self) -> str:
        return f"ProcessPool({self.size} workers)"
