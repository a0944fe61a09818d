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
    """The lineage around the latest success of (asset, partition)."""
    if direction not in ("both", "upstream", "downstream"):
        raise RunError(f"direction must be both, upstream or downstream, not {direction!r}")
    start = store.latest_success_id(asset, partition)
    if start is None:
        raise RunError(f"{asset}[{partition}] has never been materialized successfully")
    nodes: dict[int, dict[str, Any]] = {}
    edges: set[tuple[int, int]] = set()

    def add_node(materialization_id: int) -> bool:
        if materialization_id in nodes:
            return False
        record = store.materialization(materialization_id)
        if record is None:  # pruned
            return False
        nodes[materialization_id] = {
            "asset": record.asset,
            "partition": record.partition,
            "materialization_id": materialization_id,
            "data_version": record.data_version,
            "run_id": record.run_id,
            "ended_at": record.ended_at.isoformat(),
        }
        return True

    add_node(start)
    if direction in ("both", "upstream"):
        frontier = [start]
        for _ in range(depth):
            following = []
            for current in frontier:
                for link in store.lineage_of(current):
                    upstream = link.upstream_materialization_id
                    if upstream is None:
                        continue
                    edges.add((upstream, current))
                    if add_node(upstream):
                        following.append(upstream)
            frontier = following
    if direction in ("both", "downstream"):
        frontier = [start]
        for _ in range(depth):
            following = []
            for current in frontier:
                for reader in store.downstream_readers(current):
                    edges.add((current, reader.id))
                    if add_node(reader.id):
                        following.append(reader.id)
            frontier = following
    return {
        "root": start,
        "nodes": list(nodes.values()),
        "edges": [{"from": a, "to": b} for a, b in sorted(edges) if a in nodes and b in nodes],
    }
