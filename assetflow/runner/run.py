"""Runs a plan on a thread pool: dependency order, pools, fail-fast, skips, cancellation."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from assetflow.errors import RunCancelled
from assetflow.planner.cutoff import UNCHANGED_INPUTS, unchanged
from assetflow.planner.plan import Plan, PlanStep
from assetflow.records import MaterializationRecord, RunStatus, StepStatus, new_id, utcnow
from assetflow.runner.leases import POLL_S, Freed, LeaseKeeper
from assetflow.runner.results import NullObserver, RunObserver, RunResult, StepResult
from assetflow.runner.step import StepEnvironment, reads_now, run_step

Node = tuple[str, str]

__all__ = ["PlanRunner", "RunCancelled", "RunOptions"]


@dataclass
class RunOptions:
    workers: int = 4
    fail_fast: bool = False
    pools: Mapping[str, int] | None = None


class PlanRunner:
    """Executes the steps of one plan with ``workers`` threads.

    A step starts once every step it depends on succeeded and its pool has room; a failed step
    marks everything downstream of it ``skipped``; with ``fail_fast`` no new step starts after
    the first failure. A step the plan may cut off (``Plan.read``) whose inputs came out of
    the run unchanged is skipped (``unchanged inputs``) and its children go on as after a
    success. Each step's records go to the environment's recorder as they happen.
    """

    def __init__(
        self,
        env: StepEnvironment,
        plan: Plan,
        options: RunOptions,
        observer: RunObserver | None = None,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self.env = env
        self.plan = plan
        self.options = options
        self.observer = observer or NullObserver()
        self.leases = leases
        self._results: dict[Node, StepResult] = {}
        self._lock = threading.Lock()
        self._checked: set[Node] = set()  # ready steps already compared for early cutoff

    def run(self) -> RunResult:
        """Run every step; returns the result, or raises RunCancelled once ``env.cancel`` is set
        (by Ctrl-C, see :mod:`assetflow.runner.interrupts`)."""
        steps = {step.node: step for step in self.plan.steps}
        order = {step.node: i for i, step in enumerate(self.plan.steps)}
        waiting = {node: len(step.depends_on) for node, step in steps.items()}
        children: dict[Node, list[Node]] = {node: [] for node in steps}
        for node, step in steps.items():
            for upstream in step.depends_on:
                children[upstream].append(node)
        ready = sorted((n for n, c in waiting.items() if c == 0), key=order.__getitem__)
        pool_use: dict[str, int] = {}
        limits = dict(self.options.pools or {})
        running: dict[Future[StepResult], PlanStep] = {}
        stopping = False
        self.observer.run_started(self.env.run_id, self.plan)
        executor = ThreadPoolExecutor(max_workers=max(1, self.options.workers))
        leases = self.leases
        # Materialized by another run since this run planned.
        elsewhere: dict[Node, Freed] = {f.node: f for f in leases.done_elsewhere} if leases else {}
        cancel = self.env.cancel
        try:
            while (ready or running) and not cancel.is_set():
                if leases is not None and leases.held:
                    elsewhere.update({f.node: f for f in leases.poll() if f.by is not None})
                # Until none is left: skipping one may make its children ready, and those may
                # have been made elsewhere too, or read nothing new either.
                while settled := [n for n in ready if n in elsewhere or self._cut_off(n)]:
                    for node in settled:
                        ready.remove(node)
                        if node in elsewhere:
                            self._done_elsewhere(steps[node], elsewhere[node])
                        else:
                            self._skip(steps[node], UNCHANGED_INPUTS)
                        self._release_children(node, children, waiting, ready, order)
                self.env.warehouse.hand_over_if_idle()
                recording = self.env.recorder.fault is None  # else records cannot land
                while not stopping and recording and ready and len(running) < self.options.workers:
                    startable = self._next_startable(ready, steps, pool_use, limits)
                    if startable is None or cancel.is_set():
                        break
                    ready.remove(startable.node)
                    pool = self.env.graph[startable.asset].pool
                    if pool is not None:
                        pool_use[pool] = pool_use.get(pool, 0) + 1
                    self.observer.step_started(startable)
                    running[executor.submit(run_step, self.env, startable)] = startable
                blocked = leases is not None and any(leases.blocked(n) for n in ready)
                if not running:
                    if blocked and not stopping:
                        cancel.wait(POLL_S)  # only steps another run holds are left: wait
                        continue
                    break
                # Never longer than POLL_S: the loop also hands an idle warehouse over (and a
                # Ctrl-C, which only sets `cancel`, is seen within it).
                done, _ = wait(list(running), timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    pool = self.env.graph[step.asset].pool
                    if pool is not None:
                        pool_use[pool] -= 1
                    result = future.result()
                    self._finish(result)
                    if result.status is StepStatus.SUCCESS:
                        self._release_children(step.node, children, waiting, ready, order)
                    else:
                        self._skip_downstream(step, children, steps)
                        ready = [n for n in ready if n not in self._results]
                        stopping = stopping or self.options.fail_fast
        except KeyboardInterrupt:
            if cancel.is_set():
                raise  # a second Ctrl-C while stopping: the user insists, stop now
            cancel.set()  # no deferring handler installed: stop as cleanly as we still can
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        if cancel.is_set():
            self._cancel(running, steps)
        if stopping:
            self._skip_rest(steps, "not started: --fail-fast stopped the run")
        failed = any(r.status is StepStatus.FAILED for r in self._results.values())
        return self._result(RunStatus.FAILED if failed else RunStatus.SUCCESS)

    def _cancel(
        self, running: Mapping[Future[StepResult], PlanStep], steps: Mapping[Node, PlanStep]
    ) -> None:
        """Stop: steps not started are cancelled, running ones awaited (they see ``cancel``
        between attempts), the rest recorded skipped; raises RunCancelled with the result."""
        self.env.cancel.set()
        for future in running:
            future.cancel()
        still = [future for future in running if not future.done()]
        notify = getattr(self.observer, "run_cancelling", None)
        if still and notify is not None:
            notify(len(still))
        wait(still)
        for future in running:
            if future.done() and not future.cancelled():
                self._finish(future.result())
        self._skip_rest(steps, "run cancelled")
        raise RunCancelled(self._result(RunStatus.CANCELLED)) from None

    def _release_children(
        self,
        node: Node,
        children: Mapping[Node, list[Node]],
        waiting: dict[Node, int],
        ready: list[Node],
        order: Mapping[Node, int],
    ) -> None:
        for child in children[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and child not in self._results:
                ready.append(child)
        ready.sort(key=order.__getitem__)

    def _done_elsewhere(self, step: PlanStep, freed: Freed) -> None:
        """Another run materialized ``step`` meanwhile: skipped here, its success read on."""
        assert freed.materialization_id is not None
        self.env.latest.set(step.node, freed.materialization_id, freed.data_version)
        self._skip(step, f"materialized by run {freed.by}")

    def _cut_off(self, node: Node) -> bool:
        """Early cutoff (see planner.cutoff): whether a ready step reads exactly what its last
        success read, so that running it would make the same data again. Compared once, when
        this run holds the partition (another run making it meanwhile is waited for)."""
        read = (self.plan.read or {}).get(node)
        if read is None or node in self._checked:
            return False
        if self.leases is not None and self.leases.blocked(node):
            return False
        self._checked.add(node)
        now = {
            up: None if latest is None else latest[1] for up, latest in reads_now(self.env, *node)
        }
        return unchanged(read, now)

    def _next_startable(
        self,
        ready: list[Node],
        steps: Mapping[Node, PlanStep],
        pool_use: Mapping[str, int],
        limits: Mapping[str, int],
    ) -> PlanStep | None:
        leases = self.leases
        for node in ready:
            if leases is not None and leases.blocked(node):
                continue
            pool = self.env.graph[node[0]].pool
            if pool is None or pool_use.get(pool, 0) < limits.get(pool, 1 << 30):
                return steps[node]
        return None

    def _finish(self, result: StepResult) -> None:
        with self._lock:
            self._results[(result.asset, result.partition)] = result
        self.observer.step_finished(result)

    def _skip(self, step: PlanStep, reason: str) -> None:
        now = utcnow()
        record = MaterializationRecord(
            id=new_id(),
            run_id=self.env.run_id,
            asset=step.asset,
            partition=step.partition,
            attempt=0,
            status=StepStatus.SKIPPED,
            started_at=now,
            ended_at=now,
            code_version=self.env.graph[step.asset].code_version,
            reason=reason,
        )
        self.env.recorder.add(materializations=[record])
        self._finish(StepResult(step.asset, step.partition, StepStatus.SKIPPED, reason=reason))

    def _skip_downstream(
        self, failed: PlanStep, children: Mapping[Node, list[Node]], steps: Mapping[Node, PlanStep]
    ) -> None:
        """Skip every step downstream of a failed step, naming the failed partition."""
        reason = f"upstream failed: {failed.asset}[{failed.partition}]"
        stack = list(children[failed.node])
        while stack:
            node = stack.pop()
            if node in self._results:
                continue
            self._skip(steps[node], reason)
            stack.extend(children[node])

    def _skip_rest(self, steps: Mapping[Node, PlanStep], reason: str) -> None:
        for node, step in steps.items():
            if node not in self._results:
                self._skip(step, reason)

    def _result(self, status: RunStatus) -> RunResult:
        ordered = [self._results[s.node] for s in self.plan.steps if s.node in self._results]
        counts: dict[str, int] = {}
        for result in ordered:
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
        run_result = RunResult(self.env.run_id, status, tuple(ordered), counts=counts)
        self.env.recorder.ensure_recorded()  # never reported done with its records lost
        self.observer.run_finished(run_result)
        return run_result
