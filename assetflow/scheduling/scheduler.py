"""The scheduler: run due schedule ticks, eager automation and freshness checks, then sleep.

One **evaluation** (``assetflow scheduler --once`` is exactly one) does, in order:

1. for every enabled schedule, the latest tick that is due and not yet claimed: claim it in
   the state store (exclusive across schedulers), then materialize the schedule's selection
   as of the tick, incrementally (a run of kind ``schedule``), and record the outcome;
2. eager automation (see :mod:`assetflow.scheduling.automation`): one run of kind
   ``automation`` over the triggered partitions, if any;
3. freshness policies (``assetflow.alerts.check_freshness``), if that module is installed.

The loop (:meth:`Scheduler.run_forever`) evaluates, then sleeps until the next tick of any
schedule (or ``interval`` seconds, when eager assets or freshness policies need a look between
ticks), waking at once when ``stop`` is set. A run in progress when ``stop`` is set is
cancelled (its own Ctrl-C handling), and the loop ends after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from assetflow.errors import RunCancelled
from assetflow.planner.plan import build_plan
from assetflow.records import RunKind, RunStatus, this_host, this_pid
from assetflow.runner.events import Listeners
from assetflow.scheduling.automation import eager_targets
from assetflow.scheduling.clock import Clock, SystemClock
from assetflow.scheduling.cron import DueTick, due_tick, next_tick
from assetflow.scheduling.schedules import ScheduleSpec

if TYPE_CHECKING:
    from assetflow.planner.plan import Plan
    from assetflow.runner.results import RunResult
    from assetflow.scheduling.subject import ScheduledSubject

__all__ = ["DEFAULT_INTERVAL_S", "Evaluation", "Outcome", "Scheduler", "format_tick"]

LOGGER = logging.getLogger("assetflow.scheduler")

# How often eager automation and freshness are looked at between ticks.
DEFAULT_INTERVAL_S = 60.0


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 schedule"``, ``"2 schedules"``, ``"0 freshness policies"``: log lines in English."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def format_tick(moment: datetime) -> str:
    """``2024-01-02T03:00+09:00``: a tick in its schedule's timezone, to the minute (or second)."""
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


@dataclass(frozen=True)
class Outcome:
    """What one schedule tick or one automation pass did.

    ``status``: the run's status (``success``, ``failed``, ``cancelled``), ``nothing_to_do``,
    ``claimed_elsewhere`` (another scheduler has this tick) or ``error`` (see ``detail``).
    """

    name: str
    status: str
    tick: datetime | None = None
    coalesced: int = 0
    run_id: str | None = None
    steps: int = 0
    targets: tuple[tuple[str, str], ...] = ()
    detail: str | None = None

    @property
    def ran(self) -> bool:
        return self.run_id is not None


@dataclass
class Evaluation:
    """Everything one evaluation did, at the scheduler clock's ``now``."""

    now: datetime
    ticks: list[Outcome] = field(default_factory=list)
    automation: Outcome | None = None
    stopped: bool = False

    @property
    def failed(self) -> bool:
        """Whether a run it started failed, or a tick could not run."""
        outcomes = [*self.ticks, *([self.automation] if self.automation else [])]
        return any(o.status in (RunStatus.FAILED.value, "error") for o in outcomes)


class Scheduler:
    """Runs one project's schedules and automation; ``stop`` ends it (set it from anywhere)."""

    def __init__(
        self,
        project: ScheduledSubject,
        *,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        interval: float = DEFAULT_INTERVAL_S,
        logger: logging.Logger = LOGGER,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval}")
        self.project = project
        self.clock: Clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        self.interval = interval
        self.log = logger
        self.schedules: list[ScheduleSpec] = [s for s in project.schedules() if s.enabled]
        self.eager = [name for name, a in project.assets.items() if a.automation == "eager"]
        self.watched = [name for name, a in project.assets.items() if a.freshness is not None]
        self.identity = f"{this_host()}:{this_pid()}"

    @property
    def periodic(self) -> bool:
        """Whether anything needs a look between ticks (eager assets, freshness policies)."""
        return bool(self.eager or self.watched)

    # -- one evaluation ------------------------------------------------------------------------

    def evaluate(self) -> Evaluation:
        """Run what is due now: schedule ticks, then automation, then freshness checks."""
        now = self.clock.now()
        evaluation = Evaluation(now)
        last = self.project.store.last_ticks()
        for schedule in self.schedules:
            if self.stop.is_set():
                break
            due = due_tick(schedule.cron, schedule.timezone, last.get(schedule.name), now)
            if due is not None:
                evaluation.ticks.append(self._run_tick(schedule, due))
        if self.eager and not self.stop.is_set():
            evaluation.automation = self._run_automation(self.clock.now())
        if self.watched and not self.stop.is_set():
            self._check_freshness(self.clock.now())
        evaluation.stopped = self.stop.is_set()
        return evaluation

    def _run_tick(self, schedule: ScheduleSpec, due: DueTick) -> Outcome:
        store = self.project.store
        label = f"tick {schedule.name} {format_tick(due.tick)}"
        if not store.claim_tick(schedule.name, due.tick, self.identity, due.coalesced):
            self.log.info("%s: claimed by another scheduler", label)
            return Outcome(schedule.name, "claimed_elsewhere", due.tick, due.coalesced)
        if due.coalesced:
            self.log.info("%s: %d missed tick(s) coalesced into this one", label, due.coalesced)
        selection = tuple(schedule.selection)
        arguments = {
            "schedule": schedule.name,
            "tick": due.tick.isoformat(),
            "coalesced": due.coalesced,
        }
        outcome = self._materialize(
            label, schedule.name, selection, RunKind.SCHEDULE, due.tick, arguments, None
        )
        outcome = Outcome(
            schedule.name,
            outcome.status,
            due.tick,
            due.coalesced,
            outcome.run_id,
            outcome.steps,
            outcome.targets,
            outcome.detail,
        )
        try:
            store.finish_tick(
                schedule.name, due.tick, outcome.status, outcome.run_id, outcome.detail
            )
        except Exception as exc:  # the run is recorded; only the tick's note is lost
            self.log.error("%s: could not record the outcome: %s", label, exc)
        return outcome

    def _run_automation(self, now: datetime) -> Outcome | None:
        try:
            evaluator = self.project.evaluator(now)
            targets = eager_targets(evaluator, self.eager)
        except Exception as exc:
            self.log.error("automation: could not evaluate: %s", exc)
            return Outcome("automation", "error", detail=str(exc))
        if not targets:
            self.log.debug("automation: nothing to do")
            return None
        names = list(dict.fromkeys(asset for asset, _ in targets))
        selection = tuple(names)
        shown = ", ".join(f"{a}[{p}]" for a, p in targets[:5])
        more = f" and {len(targets) - 5} more" if len(targets) > 5 else ""
        label = f"automation ({shown}{more})"
        arguments = {"automation": "eager", "partitions": [f"{a}[{p}]" for a, p in targets]}
        return self._materialize(
            label, "automation", selection, RunKind.AUTOMATION, now, arguments, targets
        )

    def _materialize(
        self,
        label: str,
        name: str,
        selection: Sequence[str],
        kind: RunKind,
        moment: datetime,
        arguments: dict[str, Any],
        only: Sequence[tuple[str, str]] | None,
    ) -> Outcome:
        """Plan (incrementally, as of ``moment``) and run; never raises but for a forced stop.

        ``only``: exactly these partitions (automation), else the scope's due partitions and
        whatever upstream of them is not fresh (a schedule tick, like ``materialize``).
        """
        try:
            self.project.check_executor()
            evaluator = self.project.evaluator(moment)
            plan: Plan
            if only is None:
                plan = self.project.plan_for(selection, evaluator)
            else:
                built = build_plan(self.project.graph, evaluator, list(only), only=True)
                plan = self.project.with_estimates(built)
            if plan.is_empty:
                self.log.info("%s: nothing to do", label)
                return Outcome(name, "nothing_to_do")
            try:
                result = self.project.run_plan(
                    plan,
                    selection,
                    kind=kind,
                    arguments=arguments,
                    snapshot=evaluator.snapshot,
                    cancel=self.stop,
                )
            except RunCancelled as cancelled:
                result = cancelled.result  # type: ignore[assignment]
        except Exception as exc:
            self.log.error("%s: %s", label, exc, exc_info=self.log.isEnabledFor(logging.DEBUG))
            return Outcome(name, "error", detail=f"{type(exc).__name__}: {exc}")
        return self._ran(label, name, result, plan)

    def _ran(self, label: str, name: str, result: RunResult, plan: Plan) -> Outcome:
        status = result.status.value
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()) if n)
        failed = ", ".join(f"{s.asset}[{s.partition}]" for s in result.failed[:5])
        self.log.log(
            logging.WARNING if result.status is not RunStatus.SUCCESS else logging.INFO,
            "%s: run %s: %s (%s%s)%s",
            label,
            result.run_id,
            status,
            counted(len(plan.steps), "step"),
            f": {counts}" if counts else "",
            f"; failed: {failed}" if failed else "",
        )
        return Outcome(
            name,
            status,
            run_id=result.run_id,
            steps=len(plan.steps),
            targets=tuple(step.node for step in plan.steps),
            detail=f"failed: {failed}" if failed else None,
        )

    def _check_freshness(self, now: datetime) -> None:
        """Freshness policies: new violations and recoveries go to the project's listeners
        (its alerts among them)."""
        # Imported here: the alerts pull in the store (and DuckDB), which loading a project
        # (this module comes with the schedules) must not.
        from assetflow.alerts.freshness import run_freshness_check

        try:
            run_freshness_check(self.project, now, listeners=Listeners(self.project.listeners))
        except Exception as exc:
            self.log.error("freshness check failed: %s", exc)

    # -- the loop ------------------------------------------------------------------------------

    def next_wake(self, evaluated: datetime, now: datetime) -> tuple[datetime | None, str]:
        """When to evaluate next, and why (for the log): the first tick after the last
        evaluation (``evaluated``: a tick that fell due while it ran is not skipped), or
        ``interval`` after ``now`` when automation or freshness need a look sooner."""
        wake: datetime | None = None
        why = ""
        for schedule in self.schedules:
            tick = next_tick(schedule.cron, schedule.timezone, evaluated)
            if wake is None or tick < wake:
                wake, why = tick, f"tick {schedule.name} {format_tick(tick)}"
        if self.periodic:
            soon = now + timedelta(seconds=self.interval)
            if wake is None or soon < wake:
                wake, why = soon, "automation and freshness checks"
        return wake, why

    def run_forever(self) -> None:
        """Evaluate, sleep until the next wake-up, repeat; return once ``stop`` is set."""
        self.log.info(
            "scheduler started: %s, %s, %s",
            counted(len(self.schedules), "schedule"),
            counted(len(self.eager), "eager asset"),
            counted(len(self.watched), "freshness policy", "freshness policies"),
        )
        if not self.schedules and not self.periodic:
            self.log.warning("nothing to schedule: no schedules, eager assets or freshness")
        while not self.stop.is_set():
            evaluated = self.evaluate().now
            if self.stop.is_set():
                break
            wake, why = self.next_wake(evaluated, self.clock.now())
            if wake is None:
                self.log.info("idle until stopped")
                self.stop.wait()
                break
            self.log.info("sleeping until %s (%s)", format_tick(wake), why)
            if self.clock.sleep_until(wake, self.stop):
                break
        self.log.info("scheduler stopped")
