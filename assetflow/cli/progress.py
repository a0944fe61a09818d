"""Run progress for the terminal: a live display on a TTY, one line per event otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from assetflow.planner.cutoff import UNCHANGED_INPUTS
from assetflow.planner.plan import Plan, PlanStep
from assetflow.records import StepStatus
from assetflow.runner.results import RunResult, StepResult

_MARKS = {StepStatus.SUCCESS: "ok", StepStatus.FAILED: "FAILED", StepStatus.SKIPPED: "skipped"}
# The reason the runner gives the steps a cancel left unstarted (assetflow.runner.run).
CANCELLED_REASON = "run cancelled"


class LineProgress:
    """One line per event, for logs and pipes: ``ok      orders[2024-01-01]  0.02s``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self.total = 0
        self.finished = 0
        self.not_started = 0  # steps a cancel skipped, reported together at the end

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def run_started(self, run_id: str, plan: Plan) -> None:
        self.total = len(plan.steps)
        self._write(f"run {run_id}: {self.total} step(s)")

    def step_started(self, step: PlanStep) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        self.finished += 1
        if result.reason == CANCELLED_REASON:
            # A cancel skips every step not started (1,350 on the example): one line for all.
            self.not_started += 1
            return
        mark = _MARKS[result.status]
        detail = f"{result.duration_s:.2f}s"
        if result.attempts > 1:
            detail += f", {result.attempts} attempts"
        if result.error:
            detail += f": {result.error}"
        if result.reason:
            detail = result.reason
        self._write(f"{mark:<8}{result.name}  {detail}  [{self.finished}/{self.total}]")

    def run_cancelling(self, running: int) -> None:
        self._write(_cancelling(running))

    def run_finished(self, result: RunResult) -> None:
        if self.not_started:
            steps = f"{self.not_started} step{'s' if self.not_started != 1 else ''}"
            self._write(
                f"{'skipped':<8}{steps}  {CANCELLED_REASON}  [{self.finished}/{self.total}]"
            )
        self._write(f"run {result.run_id} {result.status.value}: {summary_counts(result)}")


def summary_counts(result: RunResult) -> str:
    """``33 skipped (unchanged inputs), 31 success``: the steps per status, saying how many of
    the skipped ones early cutoff skipped (a normal outcome, not a failure upstream)."""
    cut = sum(1 for step in result.steps if step.reason == UNCHANGED_INPUTS)
    parts = []
    for status, n in sorted(result.counts.items()):
        text = f"{n} {status}"
        if status == StepStatus.SKIPPED.value and cut:
            text += f" ({'' if cut == n else f'{cut} '}{UNCHANGED_INPUTS})"
        parts.append(text)
    return ", ".join(parts) or "nothing to do"


def _cancelling(running: int) -> str:
    return (
        f"cancelling: waiting for {running} running step(s) to finish"
        " (Ctrl-C again to stop at once)"
    )


class LiveProgress:
    """A live status line on a terminal: done / failed / running / remaining and an ETA."""

    def __init__(self, console: Any = None, workers: int = 1) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=False)
        self.workers = workers
        self.plan: Plan | None = None
        self._lock = threading.Lock()
        self.total = 0
        self.done = self.failed = self.skipped = self.running = 0
        self.unchanged = 0  # steps early cutoff skipped: not run, and fresh
        self.started = time.monotonic()
        self._live: Any = None
        self.run_id = ""

    def _eta(self, finished: int, left: int, elapsed: float) -> float | None:
        """Seconds left: past durations of the steps left (from history, per asset) spread over
        the workers; without history, the rate observed so far in this run."""
        if self.plan is not None and self.plan.estimates:
            known = [self.plan.estimates.get(s.asset) for s in self.plan.steps]
            values = [v for v in known if v is not None]
            if values:
                per_step = sum(values) / len(values)
                return per_step * left / max(1, self.workers)
        return elapsed / finished * left if finished else None

    def _line(self) -> str:
        finished = self.done + self.unchanged + self.failed + self.skipped
        remaining = self.total - finished - self.running
        elapsed = time.monotonic() - self.started
        seconds = self._eta(finished, remaining + self.running, elapsed)
        eta = f"  ETA {seconds:.0f}s" if seconds is not None and remaining + self.running else ""
        unchanged = f"unchanged [green]{self.unchanged}[/]  " if self.unchanged else ""
        return (
            f"[bold]{self.run_id}[/]  done [green]{self.done}[/]  {unchanged}"
            f"failed [red]{self.failed}[/]  "
            f"skipped [yellow]{self.skipped}[/]  running {self.running}  remaining {remaining}"
            f"  ({elapsed:.1f}s){eta}"
        )

    def run_started(self, run_id: str, plan: Plan) -> None:
        from rich.live import Live

        self.total = len(plan.steps)
        self.plan = plan
        self.run_id = run_id
        self.started = time.monotonic()
        self._live = Live(self._line(), console=self.console, refresh_per_second=8, transient=True)
        self._live.start()

    def step_started(self, step: PlanStep) -> None:
        with self._lock:
            self.running += 1
            self._refresh()

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            if result.status is StepStatus.SUCCESS:
                self.done += 1
                self.running -= 1
            elif result.status is StepStatus.FAILED:
                self.failed += 1
                self.running -= 1
                self.console.print(f"[red]FAILED[/] {result.name}: {result.error}")
            elif result.reason == UNCHANGED_INPUTS:
                self.unchanged += 1
            else:
                self.skipped += 1
            self._refresh()

    def run_cancelling(self, running: int) -> None:
        self.console.print(f"[yellow]{_cancelling(running)}[/]")

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._line())

    def run_finished(self, result: RunResult) -> None:
        if self._live is not None:
            self._live.stop()
        colour = "green" if result.status.value == "success" else "red"
        self.console.print(
            f"run {result.run_id} [{colour}]{result.status.value}[/]: {summary_counts(result)}"
            f" in {time.monotonic() - self.started:.1f}s"
        )


def progress_for(as_json: bool, workers: int = 1) -> LineProgress | LiveProgress:
    """Live on a terminal; lines otherwise; with --json, lines on stderr (stdout is the JSON)."""
    if as_json:
        return LineProgress(sys.stderr)
    if sys.stdout.isatty():
        return LiveProgress(workers=workers)
    return LineProgress(sys.stdout)
