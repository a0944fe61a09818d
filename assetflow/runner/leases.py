"""A run's claims on its partitions, and its wait for the ones another live run holds.

The run claims every partition of its plan as it starts (one transaction). A step whose
partition another live run holds does not start; every :data:`POLL_S` seconds the keeper asks
again. Once the other run lets go: if it recorded a success since this run planned, the step is
skipped ("materialized by run ID") and its downstream steps read that success; otherwise (the
other run failed or died) this run claims the partition and runs the step itself.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from assetflow.store.store import StateStore

Node = tuple[str, str]

POLL_S = 0.5


@dataclass(frozen=True)
class Freed:
    """A partition no longer held elsewhere: ``by`` names the run that materialized it, with
    its materialization id and data version; ``by`` None means this run holds it now."""

    node: Node
    by: str | None = None
    materialization_id: int | None = None
    data_version: str | None = None


class LeaseKeeper:
    """Claims ``nodes`` for ``run_id`` in ``store`` and tracks those held by other runs."""

    def __init__(
        self, store: StateStore, run_id: str, nodes: Collection[Node], since: datetime
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.since = since
        self.held = store.acquire_leases(run_id, nodes)  # node -> the run holding it
        self._polled = time.monotonic()
        # Claimed, but another run may have materialized (and let go of) some since this run
        # planned: those are done, not to be run again.
        claimed = [node for node in nodes if node not in self.held]
        self.done_elsewhere = [
            Freed(node, by, materialization_id, version)
            for node, (by, materialization_id, version) in store.successes_since(
                claimed, since, run_id
            ).items()
        ]

    def blocked(self, node: Node) -> bool:
        """Whether another live run holds ``node`` (its step must wait)."""
        return node in self.held

    def poll(self, force: bool = False) -> list[Freed]:
        """The held partitions let go since the last poll (at most one poll per POLL_S)."""
        if not self.held or (not force and time.monotonic() - self._polled < POLL_S):
            return []
        self._polled = time.monotonic()
        self.store.record_crashed()  # a holder that died frees its partitions
        still = self.store.lease_holders(list(self.held))
        freed: list[Freed] = []
        for node in list(self.held):
            if node in still:
                self.held[node] = still[node]
                continue
            done = self.store.success_by(node, self.since)
            if done is not None and done[0] != self.run_id:
                del self.held[node]
                freed.append(Freed(node, done[0], done[1], done[2]))
                continue
            again = self.store.acquire_leases(self.run_id, [node])
            if node in again:  # another run was quicker
                self.held[node] = again[node]
                continue
            del self.held[node]
            freed.append(Freed(node))
        return freed
