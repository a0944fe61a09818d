"""The Assets screen's data: one row per asset, sorted by what needs attention, and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.errors import SelectionError
from assetflow.records import PartitionStatus, utcnow
from assetflow.views.format import ATTENTION, freshness_text

if TYPE_CHECKING:
    from assetflow.application.project import Project

STATUSES = tuple(status.value for status in PartitionStatus)


@dataclass(frozen=True)
class AssetRow:
    """One asset: partition counts per status, latest success, freshness and schedule."""

    name: str
    kind: str  # the partitions kind: none, daily, hourly, weekly, monthly, static, multi
    counts: dict[str, int]
    partitions: int
    last_materialized_at: datetime | None
    typical_duration_s: float | None  # median of the recent successes
    freshness: str  # "" without a policy, else "ok (26h)" or "overdue (26h)"
    overdue: bool
    schedule: str
    group: str

    @property
    def worst(self) -> str:
        """The most urgent state: failed, overdue, running, stale, missing or fresh."""
        for state in ATTENTION:
            if (state == "overdue" and self.overdue) or self.counts.get(state, 0):
                return state
        return "fresh"

    @property
    def attention(self) -> tuple[int, int, str]:
        """Sort key: most urgent state first, then more partitions in it, then by name."""
        worst = self.worst
        count = self.counts.get(worst, 0)
        return (ATTENTION.index(worst), -count, self.name)


@dataclass(frozen=True)
class Summary:
    """The live summary line: assets per worst state, and runs in progress."""

    assets: int
    by_state: dict[str, int] = field(default_factory=dict)
    runs_in_progress: int = 0

    def text(self) -> str:
        parts = [f"{self.by_state.get(s, 0)} {s}" for s in ATTENTION if self.by_state.get(s)]
        runs = self.runs_in_progress
        return (
            f"{self.assets} assets: "
            + (" · ".join(parts) or "none")
            + f"  │  {runs} run{'s' if runs != 1 else ''} in progress"
        )


@dataclass(frozen=True)
class AssetsView:
    """Everything the Assets screen shows; ``error`` explains a filter that did not parse."""

    rows: list[AssetRow]
    summary: Summary
    filter: str = ""
    error: str = ""


def filter_names(project: Project, text: str) -> tuple[list[str], str]:
    """The assets a filter selects, and an error message when it does not parse.

    The filter is a selection (``+orders``, ``tag:domain=sales``, ``group:finance``, several
    terms); a plain word that names no asset matches the assets whose names contain it, so
    typing part of a name works as in other terminal apps.
    """
    terms = text.split()
    if not terms:
        return project.select(None), ""
    try:
        return project.select(terms), ""
    except SelectionError as exc:
        if len(terms) == 1 and terms[0].replace("_", "").isalnum():
            found = [name for name in project.assets if terms[0].lower() in name.lower()]
            if found:
                return found, ""
        return [], str(exc)


def load_assets(project: Project, now: datetime | None = None, filter_text: str = "") -> AssetsView:
    """The Assets screen at ``now``: counts and freshness from the status cache (one bulk
    read), typical durations from history, runs in progress."""
    from assetflow.application.operations import observe_for

    moment = now or utcnow()
    names, error = filter_names(project, filter_text)
    store = project.store
    if names:  # before the reading session, which cannot write what observing finds
        observe_for(project.workspace, names, moment)
    with store.reading_session():  # one open of the state file for the whole screen
        records = project.status_counts(names, now=moment) if names else []
        durations = store.durations(names) if names else {}
        live = len(store.live_runs())
    described = {r["asset"]: r for r in project.list_assets(names, now=moment)} if names else {}
    rows = []
    for record in records:
        name = record["asset"]
        # Computed in bulk with the counts: one evaluation per asset would screen the whole
        # history again for each asset with a freshness policy.
        overdue = bool(record["overdue"])
        definition = project.asset(name)
        at = record["last_materialized_at"]
        policy = definition.freshness
        rows.append(
            AssetRow(
                name=name,
                kind=definition.partitions.kind,
                counts=dict(record["counts"]),
                partitions=record["partitions"],
                last_materialized_at=datetime.fromisoformat(at) if at else None,
                typical_duration_s=durations.get(name),
                freshness=freshness_text(None if policy is None else policy.max_lag, overdue),
                overdue=overdue,
                schedule=definition.schedule or ", ".join(described[name]["schedules"]),
                group=definition.group or "",
            )
        )
    rows.sort(key=lambda row: row.attention)
    by_state: dict[str, int] = {}
    for row in rows:
        by_state[row.worst] = by_state.get(row.worst, 0) + 1
    summary = Summary(len(rows), by_state, live)
    return AssetsView(rows, summary, filter_text, error)
