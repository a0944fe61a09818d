"""A run's claims on its partitions, and its wait for the ones another live run holds.

The run claims every partition of its plan as it starts (one transaction). A step whose
partition another live run holds does not start; every :data:`POLL_S` seconds the keeper asks
again. Once the other run lets go: if the partition's committed last success is no longer the
one this run's plan read, another run made it meanwhile and the step is skipped ("materialized
by run ID"), its downstream steps reading that success; otherwise (the other run failed or
died) this run claims the partition and runs the step itself.

A run lets go of a partition in the transaction that records its step, so a success is durable
before anyone can claim the partition again; and "made meanwhile" is decided by the identity of
the last success, never by comparing times (a batching recorder commits a success some time
after its step ended, possibly after another run read history).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

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
    """Claims ``nodes`` for ``run_id`` in ``store`` and tracks those held by other runs.

    ``seen`` maps each node to the id of its last success in the history the plan was made
    from (None: it had none); nodes it lacks count as None.
    """

    def __init__(
        self,
        store: StateStore,
        run_id: str,
        nodes: Collection[Node],
        seen: Mapping[Node, int | None],
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.seen = {node: seen.get(node) for node in nodes}
        self.held = store.acquire_leases(run_id, nodes)  # node -> the run holding it
        self._polled = time.monotonic()
        # Claimed, but another run may have materialized (and let go of) some since this run
        # read history: those are done, not to be run again. Read under the claim, so that no
        # other run can commit a success for them after this read.
        claimed = {node: self.seen[node] for node in nodes if node not in self.held}
        self.done_elsewhere = [
            Freed(node, by, materialization_id, version)
            for node, (by, materialization_id, version) in store.made_since_read(
                claimed, run_id
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
        self.held.update(still)
        let_go = [node for node in self.held if node not in still]
        if not let_go:
            return []
        # Claim first, then read under the claim: a success another run commits between a read
        # and a claim would otherwise go unseen, and the partition be made twice.
        again = self.store.acquire_leases(self.run_id, let_go)
        self.held.update(again)  # another run was quicker: wait for it in turn
        claimed = {node: self.seen[node] for node in let_go if node not in again}
        made = self.store.made_since_read(claimed, self.run_id)
        freed: list[Freed] = []
        for node in claimed:
            del self.held[node]
            done = made.get(node)
            freed.append(Freed(node) if done is None else Freed(node, *done))
        return freed
