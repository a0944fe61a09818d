"""The Runs screen's data: recent runs with progress, and one run's steps and failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.records import MaterializationRecord, RunStatus

if TYPE_CHECKING:
    from assetflow.application.project import Project

RUNS_SHOWN = 50
STEP_LOG_LINES = 200


@dataclass(frozen=True)
class RunRow:
    """One run: its outcome so far and how far it got."""

    run_id: str
    kind: str
    status: str
    selection: str
    started_at: datetime
    ended_at: datetime | None
    counts: dict[str, int]
    remaining: int = 0  # steps a live run still holds (queued or running)
    never_ran: int = 0  # steps a cancel skipped: counted in ``counts``, not done

    @property
    def done(self) -> int:
        """Steps that came to an end: a cancelled run's bar shows how far it got."""
        return sum(self.counts.values()) - self.never_ran

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.remaining

    @property
    def live(self) -> bool:
        return self.status == RunStatus.RUNNING.value

    def took_s(self, now: datetime) -> float:
        return ((self.ended_at or now) - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunsView:
    rows: list[RunRow]

    @property
    def live(self) -> int:
        return sum(1 for row in self.rows if row.live)


@dataclass(frozen=True)
class Step:
    """One (asset, partition) step of a run: its final status and every attempt."""

    asset: str
    partition: str
    status: str  # success, failed, skipped; pending while a live run still holds it
    attempts: list[MaterializationRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.asset if self.partition == "-" else f"{self.asset}[{self.partition}]"

    @property
    def tries(self) -> int:
        return sum(1 for a in self.attempts if a.attempt > 0)

    @property
    def duration_s(self) -> float | None:
        ran = [a for a in self.attempts if a.attempt > 0]
        return sum(a.duration_s for a in ran) if ran else None

    @property
    def last(self) -> MaterializationRecord | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def note(self) -> str:
        last = self.last
        if last is None:
            return ""
        return (
            (last.error or last.reason or "").splitlines()[0] if (last.error or last.reason) else ""
        )


@dataclass(frozen=True)
class RunDetail:
    run: RunRow
    arguments: dict[str, object]
    steps: list[Step]

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if s.status == "failed"]

    @property
    def executor(self) -> str:
        """Where the run's steps ran, when not on the coordinator's threads: ``on dask at
        tcp://… (dashboard http://…)`` or ``on processes (2 workers)``; else empty."""
        kind = self.arguments.get("executor")
        if not kind:
            return ""
        text = f"on {kind}"
        if kind == "processes" and self.arguments.get("workers"):
            text += f" ({self.arguments['workers']} workers)"
        if self.arguments.get("address"):
            text += f" at {self.arguments['address']}"
        if self.arguments.get("dashboard"):
            text += f" (dashboard {self.arguments['dashboard']})"
        return text


def load_runs(project: Project, limit: int = RUNS_SHOWN) -> RunsView:
    """The newest runs first; live runs with the steps they still hold."""
    store = project.store
    with store.reading_session():  # one open of the state file for the whole screen
        summaries = project.runs(limit=limit)
        held: dict[str, int] = {}
        if any(s.run.status == RunStatus.RUNNING for s in summaries):
            for run_id in store.leased().values():
                held[run_id] = held.get(run_id, 0) + 1
        cancelled = {
            s.run.run_id: _never_ran(store.run_steps(s.run.run_id))
            for s in summaries
            if s.run.status == RunStatus.CANCELLED and s.counts.get("skipped")
        }
    return RunsView(
        [
            _row(s.run, s.counts, held.get(s.run.run_id, 0), cancelled.get(s.run.run_id, 0))
            for s in summaries
        ]
    )


def load_run(project: Project, run_id: str) -> RunDetail:
    """One run's steps in start order (pending ones last), with their attempts."""
    record, attempts = project.run(run_id)
    steps: dict[tuple[str, str], list[MaterializationRecord]] = {}
    for attempt in attempts:
        steps.setdefault((attempt.asset, attempt.partition), []).append(attempt)
    out = [Step(a, p, tried[-1].status.value, tried) for (a, p), tried in steps.items()]
    pending = []
    if record.status == RunStatus.RUNNING:
        pending = [
            Step(a, p, "pending")
            for (a, p), holder in project.store.leased().items()
            if holder == record.run_id and (a, p) not in steps
        ]
    counts: dict[str, int] = {}
    for step in out:
        counts[step.status] = counts.get(step.status, 0) + 1
    row = _row(record, counts, len(pending), _never_ran(attempts))
    return RunDetail(row, dict(record.arguments), out + sorted(pending, key=lambda s: s.label))


def step_text(step: Step, logs: list[str]) -> list[str]:
    """A step's detail: every attempt, the last error's traceback, and its captured logs."""
    out = [f"{step.label}  {step.status}"]
    for a in step.attempts:
        what = f"attempt {a.attempt}" if a.attempt else "skipped"
        out.append(
            f"  {what}: {a.status.value} in {a.duration_s:.2f}s"
            + (f" — {a.error or a.reason}" if (a.error or a.reason) else "")
        )
    last = step.last
    if last is not None and last.traceback:
        out.append("traceback:")
        out.extend("  " + line for line in last.traceback.rstrip().splitlines())
    out.append("logs:" if logs else "logs: none")
    out.extend("  " + line for line in logs)
    return out


def load_step_logs(project: Project, run_id: str, step: Step) -> list[str]:
    """The captured log lines of one step in one run."""
    return [
        f"#{line.attempt} {line.record.created_at:%H:%M:%S} {line.record.level:<7} "
        f"{line.record.message}"
        for line in project.logs(step.asset, step.partition, run_id=run_id, limit=STEP_LOG_LINES)
    ]


# The reason the runner records on the steps a cancel left unstarted (assetflow.runner.run).
CANCELLED_REASON = "run cancelled"


def _never_ran(attempts: list[MaterializationRecord]) -> int:
    """How many steps a cancel skipped before they started."""
    return sum(1 for a in attempts if a.attempt == 0 and a.reason == CANCELLED_REASON)


def _row(record: object, counts: dict[str, int], remaining: int, never_ran: int = 0) -> RunRow:
    from assetflow.records import RunRecord

    assert isinstance(record, RunRecord)
    return RunRow(
        run_id=record.run_id,
        kind=record.kind,
        status=str(record.status),
        selection=record.selection,
        started_at=record.started_at,
        ended_at=record.ended_at,
        counts=dict(counts),
        remaining=remaining if record.status == RunStatus.RUNNING else 0,
        never_ran=never_ran,
    )
