"""Materialization-level lineage: which materializations fed which.

Starting from the latest success of one partition, walks the recorded lineage upstream (what it
read) and downstream (what read it), up to ``depth`` hops. The result is the ``lineage --json``
document: ``{"nodes": [...], "edges": [{"from", "to"}]}`` with materialization ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assetflow.errors import RunError

if TYPE_CHECKING:
    from assetflow.store.store import StateStore


def lineage_graph(
    store: StateStore, asset: str, partition: str, direction: str = "both", depth: int = 10
) -> dict[str, Any]:
    """The lineage around the latest success of (asset, partition).

    Nodes are listed by asset, then partition; edges by their ends in that order.
    """
    if direction not in ("both", "upstream", "downstream"):
        raise RunError(f"direction must be both, upstream or downstream, not {direction!r}")
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    walk = store.lineage_walk(asset, partition, directions, depth)
    if walk is None:
        raise RunError(f"{asset}[{partition}] has never been materialized successfully")

    def order(materialization_id: int) -> tuple[str, str, int]:
        record = walk.nodes[materialization_id]
        return record.asset, record.partition, materialization_id

    nodes = sorted(walk.nodes, key=order)
    edges = sorted(walk.edges, key=lambda edge: (order(edge[0]), order(edge[1])))
    return {
        "root": walk.root.id,
        "nodes": [
            {
                "asset": walk.nodes[mid].asset,
                "partition": walk.nodes[mid].partition,
                "materialization_id": mid,
                "data_version": walk.nodes[mid].data_version,
                "run_id": walk.nodes[mid].run_id,
                "ended_at": walk.nodes[mid].ended_at.isoformat(),
            }
            for mid in nodes
        ],
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
