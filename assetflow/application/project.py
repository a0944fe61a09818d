"""`Project`: the one facade the CLI, the TUI and Python users call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.application import operations
from assetflow.application.catalog import Catalog
from assetflow.application.history_queries import HistoryQueries
from assetflow.application.operations import scope_of
from assetflow.application.showing import DataQueries
from assetflow.application.stepwise import Stepwise
from assetflow.application.workspace import Selection, Workspace
from assetflow.config.listeners import load_listeners
from assetflow.config.loading import load_definitions
from assetflow.config.reading import find_config, load_config
from assetflow.definitions.assets import AssetDef
from assetflow.errors import PartitionError, SelectionError, did_you_mean
from assetflow.graph.asset_graph import AssetGraph
from assetflow.graph.selection import select
from assetflow.planner.explain import WhyLink
from assetflow.planner.plan import Plan
from assetflow.planner.status import StatusResult
from assetflow.records import CheckRecord, RunStatus, utcnow

if TYPE_CHECKING:
    from assetflow.application.observing import Observed
    from assetflow.config.models import ProjectConfig
    from assetflow.runner.results import RunObserver, RunResult
    from assetflow.scheduling.schedules import ScheduleSpec


class Project(Catalog, HistoryQueries, Stepwise, DataQueries):
    """A loaded assetflow project: its configuration and its validated asset graph.

    ``Project.load()`` finds ``assets.toml`` upward from the current folder (or takes a path to
    the file or its folder), imports the project's modules and validates the graph; every
    problem is an :class:`~assetflow.errors.AssetflowError` that names its culprit.
    """

    def __init__(self, config: ProjectConfig, graph: AssetGraph) -> None:
        self.config = config
        self.graph = graph
        # Run listeners of every run of this project (docs/listeners.md): [project]
        # listeners, then those added with add_listener.
        self.user_listeners: list[object] = []
        self._exports: list[object] | None = None  # [lineage.openlineage], made once

    @classmethod
    def load(cls, path: str | Path | None = None) -> Project:
        """Load the project whose ``assets.toml`` is at or above ``path`` (default: cwd)."""
        config = load_config(find_config(Path(path) if path is not None else None))
        definitions = load_definitions(config)
        project = cls(config, AssetGraph(definitions.assets, definitions.checks))
        project.user_listeners.extend(load_listeners(config))
        project.exports()  # a [lineage.openlineage] that cannot be used fails at load
        project._schedule_members()  # a schedule selecting unknown assets fails at load
        return project

    def _schedule_members(self) -> dict[str, list[str]]:
        """For each asset, the ``[schedules.NAME]`` whose selection includes it."""
        members: dict[str, list[str]] = {name: [] for name in self.graph.assets}
        for schedule_name, schedule in self.config.schedules.items():
            try:
                selected = self.select(schedule.select)
            except SelectionError as exc:
                raise SelectionError(
                    f"{self.config.path.name}: schedules.{schedule_name}.select: {exc}"
                ) from None
            for name in selected:
                members[name].append(schedule_name)
        return members

    def add_listener(self, listener: object) -> None:
        """Tell ``listener`` (a :class:`~assetflow.runner.events.RunListener`) about every
        run of this project from now on."""
        self.user_listeners.append(listener)

    @property
    def listeners(self) -> list[object]:
        """Who hears of this project's runs: its alerts (with ``[[alerts]]``), its lineage
        export (with ``[lineage.openlineage]``), then the user's listeners."""
        alerts: list[object] = []
        if self.config.alerts:  # imported only then: the alerts room is 0.05 s of start-up
            from assetflow.alerts.listener import AlertsListener

            alerts.append(AlertsListener(self))
        return [*alerts, *self.exports(), *self.user_listeners]

    def exports(self) -> list[object]:
        """The lineage export listeners (one per project object: they keep a queue)."""
        if self._exports is None and self.config.lineage.openlineage is None:
            self._exports = []  # nothing to export: the room is not even imported
        if self._exports is None:
            from assetflow.lineage_export import openlineage_listener

            self._exports = [e for e in [openlineage_listener(self)] if e is not None]
        return self._exports

    @property
    def workspace(self) -> Workspace:
        """What the operations under this facade work on: the config, the graph, the
        listeners of its runs and the clock."""
        return Workspace(self.config, self.graph, tuple(self.listeners))

    @property
    def root(self) -> Path:
        """The folder holding ``assets.toml``."""
        return self.config.root

    @property
    def name(self) -> str:
        return self.config.project.name

    @property
    def assets(self) -> dict[str, AssetDef]:
        """Every asset by name, in topological order."""
        return self.graph.assets

    def asset(self, name: str) -> AssetDef:
        """One asset by name; an unknown name is a SelectionError suggesting close names."""
        if name not in self.graph:
            raise SelectionError(f"unknown asset '{name}'" + did_you_mean(name, self.graph.assets))
        return self.graph[name]

    def select(self, selection: Selection = None, exclude: Selection = None) -> list[str]:
        """Asset names selected (dbt-like syntax, see :mod:`assetflow.graph.selection`)."""
        # Not through self.workspace: that would build the run listeners for a selection.
        return select(self.graph, selection, exclude)

    def schedules(self) -> list[ScheduleSpec]:
        """Every schedule: the ``[schedules.NAME]`` tables, then each asset's own ``schedule=``
        (named ``asset:NAME``); see :mod:`assetflow.scheduling`."""
        from assetflow.scheduling.schedules import collect_schedules  # not for reads: 0.01 s

        return collect_schedules(
            self.config.schedules, list(self.assets.values()), self.config.project.timezone
        )

    # -- history, plans and runs (see assetflow.application.operations) ----------------------

    def status(
        self,
        selection: Selection = None,
        *,
        exclude: Selection = None,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        now: datetime | None = None,
    ) -> list[StatusResult]:
        """The status and reasons of every targeted partition (all partitions by default)."""
        return operations.statuses(
            self.workspace, scope_of(selection, exclude, partition, first, last), now
        )

    def status_counts(
        self,
        selection: Selection = None,
        *,
        exclude: Selection = None,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Per selected asset: ``{"asset", "counts": {status: n}, "partitions",
        "last_materialized_at"}`` (the ``status --json`` records), computed in bulk."""
        scope = scope_of(selection, exclude, partition, first, last)
        workspace = self.workspace
        moment = workspace.now(now)
        names = workspace.select(list(scope.selection) or None, list(scope.exclude) or None)
        # Observed first; then every read through one open of the state file.
        with operations.observed_reading(workspace, names, moment):
            records = operations.status_counts(workspace, scope, moment)
            warned = self.check_warnings([r["asset"] for r in records])
        for record in records:
            partitions = {w.partition for w in warned if w.asset == record["asset"]}
            record["check_warnings"] = len(partitions)
        return records

    def check_warnings(
        self, assets: Sequence[str] | None = None, partition: str | None = None
    ) -> list[CheckRecord]:
        """The checks that the data partitions hold now fails (non-blocking failures published
        with a warning, or ``assetflow check`` failures), for ``status``, ``why`` and the UI."""
        names = set(self.graph.assets if assets is None else assets)
        if not any(c.asset in names for c in self.graph.checks):
            return []
        found = self.store.failing_checks(sorted(names))
        return [w for w in found if partition is None or w.partition == partition]

    def plan(
        self,
        selection: Selection = None,
        *,
        exclude: Selection = None,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        only: bool = False,
        force: bool = False,
        now: datetime | None = None,
    ) -> Plan:
        """The minimal ordered plan that makes the selection fresh (nothing runs)."""
        scope = scope_of(selection, exclude, partition, first, last)
        return operations.make_plan(self.workspace, scope, only=only, force=force, now=now)

    def placement(
        self, plan: Plan, executor: str | None = None, address: str | None = None
    ) -> dict[str, str]:
        """Where each asset of ``plan`` would run: ``coordinator`` (this process) or the
        executor kind; ``executor``/``address`` as for :meth:`materialize`."""
        from assetflow.application.running import placement

        return placement(self.workspace.with_executor(executor, address), plan)

    def materialize(
        self,
        selection: Selection = None,
        *,
        exclude: Selection = None,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        only: bool = False,
        force: bool = False,
        fail_fast: bool = False,
        workers: int | None = None,
        executor: str | None = None,
        address: str | None = None,
        observer: RunObserver | None = None,
        now: datetime | None = None,
    ) -> RunResult:
        """Make the selection fresh: plan, run the plan, record everything.

        Returns the run's result (its status is ``failed`` if any step failed); raises
        :class:`~assetflow.runner.run.RunCancelled` on Ctrl-C. With nothing to do, no run is
        recorded: the result has ``run_id=None`` and no steps. ``executor`` (``threads``,
        ``processes``, ``dask``) and ``address`` (a Dask scheduler) override ``[executor]``.
        """
        workspace = self.workspace.with_executor(executor, address)
        operations.check_executor(workspace.config.executor.kind)
        scope = scope_of(selection, exclude, partition, first, last)
        moment = now or utcnow()
        forced = operations.targets(workspace, scope, moment) if force else ()
        # One read of history for plan and run; a forced run also reads what its targets read.
        selected = self.select(list(scope.selection) or None, list(scope.exclude) or None)
        evaluator = operations.evaluator(workspace, moment, include=forced, for_assets=selected)
        plan = operations.make_plan(workspace, scope, only=only, force=force, evaluator_=evaluator)
        if plan.is_empty:
            # Not a run: `materialize` from cron every five minutes would fill the history
            # with empty ones. (A backfill is tracked, so it records even an empty run.)
            waiting = tuple(step.name for step in plan.waiting)
            from assetflow.runner.results import RunResult

            return RunResult(None, RunStatus.SUCCESS, waiting=waiting)
        return operations.execute(
            workspace,
            plan,
            scope,
            workers=workers,
            fail_fast=fail_fast,
            observer=observer,
            snapshot=evaluator.snapshot,
        )

    def backfill(
        self,
        selection: Selection,
        *,
        first: str,
        last: str,
        exclude: Selection = None,
        missing_only: bool = False,
        stale_only: bool = False,
        downstream: bool = False,
        fail_fast: bool = False,
        workers: int | None = None,
        executor: str | None = None,
        address: str | None = None,
        observer: RunObserver | None = None,
        now: datetime | None = None,
    ) -> RunResult:
        """Re-run the partitions from ``first`` to ``last`` (inclusive) in order, tracked."""
        from assetflow.application import backfilling  # runs only: 0.01 s of start-up

        return backfilling.backfill(
            self.workspace.with_executor(executor, address),
            scope_of(selection, exclude, None, first, last),
            missing_only=missing_only,
            stale_only=stale_only,
            downstream=downstream,
            workers=workers,
            fail_fast=fail_fast,
            observer=observer,
            now=now,
        )

    def resume_backfill(
        self,
        backfill_id: str,
        *,
        fail_fast: bool = False,
        workers: int | None = None,
        executor: str | None = None,
        address: str | None = None,
        observer: RunObserver | None = None,
    ) -> RunResult:
        """Continue a backfill with the partitions none of its runs has materialized."""
        from assetflow.application import backfilling

        return backfilling.resume_backfill(
            self.workspace.with_executor(executor, address),
            backfill_id,
            workers=workers,
            fail_fast=fail_fast,
            observer=observer,
        )

    def why(
        self, asset: str, partition: str | None = None, now: datetime | None = None
    ) -> list[WhyLink]:
        """The reason chain of one partition down to its root cause."""
        from assetflow.planner.explain import why

        definition = self.asset(asset)
        if partition is None:
            if definition.partitions.kind != "none":
                raise PartitionError(
                    f"asset '{asset}' is partitioned ({definition.partitions}); "
                    "name a partition, e.g. "
                    f"assetflow why {asset} {definition.partitions.last_key(now) or 'KEY'}"
                )
            partition = "-"
        key = definition.partitions.validate_key(partition, now)
        workspace = self.workspace
        moment = workspace.now(now)
        with operations.observed_reading(workspace, None, moment):  # one open for all reads
            evaluator = operations.evaluator(workspace, moment)
            return why(evaluator, asset, key, self.store.success_history)

    def observe(
        self, selection: Selection = None, *, exclude: Selection = None, now: datetime | None = None
    ) -> Observed:
        """Observe the selected sources and the sources the selected assets read (all sources
        by default), recording what changed (see :mod:`assetflow.application.observing`)."""
        from assetflow.application.observing import observe_sources, sources_read_by

        chosen = self.select(selection, exclude) if selection is not None else None
        sources = sources_read_by(self.graph, chosen)
        return observe_sources(self.graph, self.store, self.root, now, sources)

    def checks(
        self, selection: Selection = None, *, exclude: Selection = None
    ) -> list[dict[str, Any]]:
        """Every check on the selected assets with its latest result (``checks --json``)."""
        from assetflow.application.checking import check_listing

        return check_listing(self.workspace, scope_of(selection, exclude, None, None, None))

    def check(
        self,
        selection: Selection = None,
        *,
        exclude: Selection = None,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        now: datetime | None = None,
    ) -> list[Any]:
        """Run the selected assets' checks on the data partitions hold now; the results
        (CheckRecord) are recorded and returned."""
        from assetflow.application.checking import run_checks

        return run_checks(self.workspace, scope_of(selection, exclude, partition, first, last), now)

    def rerun_failed(
        self,
        run_id: str,
        *,
        workers: int | None = None,
        observer: RunObserver | None = None,
    ) -> RunResult:
        """Materialize again the partitions whose last attempt in run ``run_id`` failed (and
        what they need upstream that is not fresh, as ``materialize`` does); those made fresh
        since are left alone. RunError if the run has no failed step."""
        from assetflow.application.backfilling import rerun_failed

        return rerun_failed(self.workspace, run_id, workers=workers, observer=observer)
