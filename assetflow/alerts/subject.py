"""What alerting needs from a loaded project, as protocols (``Project`` satisfies them).

Alerts sit below the application layer: they name the few things they read (the settings, the
state store, the graph and a status evaluator) instead of the facade that provides them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assetflow.config.models import ProjectConfig
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.planner.status import StatusEvaluator
    from assetflow.store.store import StateStore

Node = tuple[str, str]


class AlertSubject(Protocol):
    """A project alerts are sent for: its ``[[alerts]]``, its name and its state store."""

    @property
    def config(self) -> ProjectConfig: ...

    @property
    def name(self) -> str: ...

    @property
    def store(self) -> StateStore: ...


class WatchedSubject(AlertSubject, Protocol):
    """A project whose freshness policies are checked: its graph and its current statuses."""

    @property
    def graph(self) -> AssetGraph: ...

    def evaluator(
        self, now: datetime | None = None, include: Collection[Node] = ()
    ) -> StatusEvaluator: ...
