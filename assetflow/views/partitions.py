"""The Partitions screen's data: an asset's partitions as a grid, and one partition's story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.records import utcnow
from assetflow.views.format import ago, duration
from assetflow.views.grid import Grid, build_grid

if TYPE_CHECKING:
    from assetflow.application.project import Project

# How many of a partition's latest attempts the detail shows.
ATTEMPTS_SHOWN = 8
LOG_LINES = 40


@dataclass(frozen=True)
class PartitionsView:
    """One asset's partitions: its definition in words, the grid and counts per status."""

    asset: str
    kind: str
    description: str
    grid: Grid
    counts: dict[str, int]


@dataclass(frozen=True)
class Attempt:
    """One attempt at a partition (or a skipped step, attempt 0)."""

    run_id: str
    attempt: int
    status: str
    started_at: datetime
    duration_s: float
    error: str | None
    reason: str | None


@dataclass(frozen=True)
class PartitionDetail:
    """Everything about one partition: status and reasons, the why chain, attempts, logs."""

    asset: str
    key: str
    status: str
    reasons: list[str]
    why: list[str]
    last_materialized_at: datetime | None
    data_version: str | None
    code_version: str | None
    attempts: list[Attempt] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    # The first rows it holds (views.preview), shown in a pane of their own.
    preview: list[str] = field(default_factory=list)

    def lines(self, now: datetime) -> list[str]:
        """The detail pane as plain lines (the screen colours the status)."""
        out = [
            f"{self.asset}[{self.key}]  {self.status}"
            f"  ·  last success {ago(now, self.last_materialized_at)}"
            f"  ·  data {(self.data_version or '-')[:12]}"
            f"  ·  code {(self.code_version or '-')[:12]}"
        ]
        if self.why:
            out.append("why:")
            out.extend("  " + line for line in self.why)
        out.append("attempts:" if self.attempts else "attempts: none")
        for a in self.attempts:
            note = a.error or a.reason or ""
            out.append(
                f"  {a.run_id}  #{a.attempt}  {a.status:<7}  {duration(a.duration_s):>6}"
                f"  {ago(now, a.started_at)}" + (f"  {note.splitlines()[0]}" if note else "")
            )
        out.append("logs:" if self.logs else "logs: none")
        out.extend("  " + line for line in self.logs)
        return out


def load_partitions(project: Project, asset: str, now: datetime | None = None) -> PartitionsView:
    """Every due partition of ``asset`` with its status, laid out as a grid."""
    moment = now or utcnow()
    definition = project.asset(asset).partitions
    results = project.status(asset, now=moment)
    statuses = {r.partition: r.status.value for r in results}
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    keys = [r.partition for r in results]
    return PartitionsView(
        asset, definition.kind, str(definition), build_grid(definition, keys, statuses), counts
    )


def load_partition(
    project: Project, asset: str, key: str, now: datetime | None = None
) -> PartitionDetail:
    """One partition: its status, reasons, why chain, recent attempts and last log lines."""
    from assetflow.application.operations import evaluator
    from assetflow.planner.explain import why
    from assetflow.views.preview import preview_lines

    moment = now or utcnow()
    definition = project.asset(asset).partitions
    node = (asset, "-" if definition.kind == "none" else definition.validate_key(key, moment))
    # One screened evaluator for the status and the why chain (each would screen the history).
    statuses = evaluator(project.workspace, moment, include=[node])
    (result,) = statuses.evaluate([node])
    store = project.store
    chain = why(statuses, asset, node[1], store.success_history)
    why_lines = [
        "  " * link.depth
        + f"{link.node[0]}[{link.node[1]}] {link.status.value}"
        + "".join(f": {r.detail}" for r in link.reasons[:2])
        + (f" ({link.cause})" if link.cause else "")
        for link in chain
        if link.depth > 0 or link.reasons
    ]
    # One keyed read of the partition's own attempts: reading whole runs would load every
    # step of a large backfill to keep a handful.
    attempts = [
        Attempt(s.run_id, s.attempt, s.status.value, s.started_at, s.duration_s, s.error, s.reason)
        for s in store.attempts(asset, result.partition, ATTEMPTS_SHOWN)
    ]
    logs = [
        f"{line.record.created_at:%H:%M:%S} {line.record.level:<7} {line.record.message}"
        for line in project.logs(asset, result.partition, limit=LOG_LINES)
    ]
    return PartitionDetail(
        asset=asset,
        key=result.partition,
        status=result.status.value,
        reasons=[r.detail for r in result.reasons],
        why=why_lines,
        last_materialized_at=result.last_materialized_at,
        data_version=result.data_version,
        code_version=result.code_version,
        attempts=attempts,
        logs=logs,
        preview=preview_lines(project, asset, result.partition),
    )
