"""`Workspace`: what the operations work on, composed by the `Project` facade.

The operations (status, plan, run, backfill, checks, verify) take a workspace, never the
facade: the project's settings, its validated graph, who hears of its runs and the clock.
They can be read, called and tested without a ``Project``, and the facade is only the
composition of them (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.graph.selection import select
from assetflow.records import utcnow

if TYPE_CHECKING:
    from assetflow.config.models import ProjectConfig
    from assetflow.graph.asset_graph import AssetGraph
    from assetflow.store.store import StateStore

# A selection as callers give it: one string, several, or None (everything).
Selection = str | Sequence[str] | None


@dataclass(frozen=True)
class Workspace:
    """A project's settings, graph, run listeners and clock: everything an operation reads."""

    config: ProjectConfig
    graph: AssetGraph
    # Who hears of every run (RunListener objects): the alerts, then the user's listeners.
    listeners: tuple[object, ...] = ()
    clock: Callable[[], datetime] = utcnow

    @property
    def root(self) -> Path:
        """The folder holding ``assets.toml`` (relative source paths start there)."""
        return self.config.root

    @property
    def store(self) -> StateStore:
        """The state store: history, statuses and the tables beside them.

        A new handle each time: it opens the state file only for each short transaction.
        """
        from assetflow.store.store import StateStore

        return StateStore(self.config.state_path)

    def now(self, given: datetime | None = None) -> datetime:
        """``given``, or the clock's time."""
        return given or self.clock()

    def with_executor(self, kind: str | None, address: str | None = None) -> Workspace:
        """This workspace with ``[executor]`` overridden (``--executor``, ``--address``);
        RunError for an unknown kind, or an address without ``dask``."""
        if kind is None and address is None:
            return self
        from dataclasses import replace

        from assetflow.errors import RunError
        from assetflow.runner.executors import EXECUTORS

        section = self.config.executor
        kind = kind or ("dask" if address is not None else section.kind)
        if kind not in EXECUTORS:
            raise RunError(f"unknown executor '{kind}' (expected one of: {', '.join(EXECUTORS)})")
        if address is not None and kind != "dask":
            raise RunError(f"--address is only for the dask executor, not '{kind}'")
        update = {"kind": kind, "address": address if kind == "dask" else None}
        if address is None and kind == "dask":
            update["address"] = section.address
        executor = section.model_copy(update=update)
        return replace(self, config=self.config.model_copy(update={"executor": executor}))

    def select(self, selection: Selection = None, exclude: Selection = None) -> list[str]:
        """Asset names selected (dbt-like syntax, see :mod:`assetflow.graph.selection`)."""
        return select(self.graph, selection, exclude)
