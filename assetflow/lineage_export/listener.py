"""The OpenLineage export as a run listener: each step attempt becomes an OpenLineage run
(``START``, then ``COMPLETE`` or ``FAIL``) whose parent is the assetflow run."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from assetflow.lineage_export.datasets import DatasetNames
from assetflow.lineage_export.delivery import Outbox, OutboxCounts
from assetflow.records import utcnow
from assetflow.runner.events import AttemptEvent, RunListener

if TYPE_CHECKING:
    from assetflow.config.lineage_sections import OpenLineageSection
    from assetflow.config.models import ProjectConfig
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.planner.plan import Plan
    from assetflow.runner.results import RunResult
    from assetflow.store.store import StateStore

__all__ = ["FLUSH_S", "ExportedProject", "OpenLineageListener"]

_LOG = logging.getLogger("assetflow")
# How long the end of a run waits for its events to go out; what is left is sent meanwhile
# (the process may end first, e.g. a CLI run: those events are lost, and counted as pending).
FLUSH_S = 2.0


class ExportedProject(Protocol):
    """What the export reads of a project (``Project`` provides it): names, paths, the graph,
    and the state store its delivery failures are recorded in."""

    @property
    def config(self) -> ProjectConfig: ...

    @property
    def name(self) -> str: ...

    @property
    def graph(self) -> AssetGraph: ...

    @property
    def store(self) -> StateStore: ...


class OpenLineageListener(RunListener):
    """Sends an OpenLineage run event for every step attempt through ``transport`` (a client
    transport, see :func:`~assetflow.lineage_export.transport.make_transport`), from a bounded
    background queue: delivery never fails a run, and slows its end by at most ``flush_s``.

    ``outbox.counts()`` says how many events were delivered, failed, dropped or are pending.
    """

    def __init__(
        self,
        project: ExportedProject,
        section: OpenLineageSection,
        transport: Any,
        *,
        flush_s: float = FLUSH_S,
        capacity: int = 1000,
        attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.project_name = project.name
        self.graph = project.graph
        self.namespace = section.namespace
        self.kind = str(section.transport["type"])
        self.names = DatasetNames(
            section.namespace,
            project.config.root,
            project.config.warehouse_path,
            project.config.data_root,
        )
        self.transport = transport
        self.flush_s = flush_s
        self.outbox = Outbox(
            transport.emit,
            name="openlineage",
            capacity=capacity,
            attempts=attempts,
            backoff_s=backoff_s,
        )
        self._lock = threading.Lock()
        self._parents: dict[str, str] = {}  # assetflow run id → its OpenLineage run id
        self._attempts: dict[int, str] = {}  # attempt (materialization) id → run id
        self._before: dict[str, OutboxCounts] = {}
        self.project = project

    def run_started(self, run_id: str, plan: Plan) -> None:
        from assetflow.lineage_export.facets import run_uuid

        with self._lock:
            self._parents[run_id] = run_uuid(utcnow(), f"assetflow-run:{run_id}")
            self._before[run_id] = self.outbox.counts()
        self.outbox.rearm_warning()

    def attempt_started(self, event: AttemptEvent) -> None:
        from assetflow.lineage_export.facets import run_uuid

        run_id = run_uuid(event.at, f"assetflow-attempt:{event.run_id}:{event.attempt_id}")
        with self._lock:
            self._attempts[event.attempt_id] = run_id
        self._send(event, run_id)

    def attempt_finished(self, event: AttemptEvent) -> None:
        from assetflow.lineage_export.facets import run_uuid

        with self._lock:
            run_id = self._attempts.pop(event.attempt_id, None)
        if run_id is None:  # its start was not seen (a listener added mid-run)
            run_id = run_uuid(event.at, f"assetflow-attempt:{event.run_id}:{event.attempt_id}")
        self._send(event, run_id)

    def run_finished(self, result: RunResult) -> None:
        self.outbox.flush(self.flush_s)
        run_id = result.run_id or ""
        with self._lock:
            self._parents.pop(run_id, None)
            before = self._before.pop(run_id, OutboxCounts())
        counts = self.outbox.counts().minus(before)
        if counts.failed or counts.dropped:
            self._record(result, counts)

    def _send(self, event: AttemptEvent, run_id: str) -> None:
        from assetflow.lineage_export.facets import attempt_run_event, run_uuid

        with self._lock:
            parent = self._parents.get(event.run_id)
        if parent is None:
            parent = run_uuid(event.at, f"assetflow-run:{event.run_id}")
        self.outbox.put(
            attempt_run_event(
                event,
                run_id=run_id,
                parent_run_id=parent,
                project=self.project_name,
                namespace=self.namespace,
                graph=self.graph,
                names=self.names,
            )
        )

    def _record(self, result: RunResult, counts: OutboxCounts) -> None:
        """One row in the alert deliveries (``event`` = ``openlineage``) for a run whose
        events did not all go out, and a warning saying how many."""
        from assetflow.store.alerts import DeliveryRecord

        summary = (
            f"{counts.failed} failed, {counts.dropped} dropped (queue full), "
            f"{counts.pending} still pending; last error: {counts.last_error}"
        )
        _LOG.warning("openlineage events of run %s not all delivered: %s", result.run_id, summary)
        now = utcnow()
        record = DeliveryRecord(
            event="openlineage",
            sink=f"openlineage {self.kind}",
            created_at=now,
            finished_at=now,
            status="failed",
            attempts=self.outbox.attempts,
            run_id=result.run_id,
            error=summary,
        )
        try:
            self.project.store.record_delivery(record)
        except Exception as exc:  # the state file busy: the warning above still said it
            _LOG.warning("openlineage delivery failures not recorded: %s", exc)
