"""The Lineage screen's data: the upstream and downstream trees of one asset, with statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.views.assets import load_assets

if TYPE_CHECKING:
    from assetflow.application.project import Project

MAX_DEPTH = 12


@dataclass(frozen=True)
class LineageNode:
    """An asset in the tree; ``repeated`` when it is already shown elsewhere in the tree."""

    asset: str
    state: str
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False


@dataclass(frozen=True)
class LineageView:
    root: LineageNode
    upstream: list[LineageNode]
    downstream: list[LineageNode]


def load_lineage(project: Project, asset: str, now: datetime | None = None) -> LineageView:
    """The asset's upstream (what it reads, recursively) and downstream (what reads it)."""
    graph = project.graph
    project.asset(asset)
    related = sorted({asset} | graph.ancestors(asset) | graph.descendants(asset))
    states = {row.name: row.worst for row in load_assets(project, now, " ".join(related)).rows}

    def walk(name: str, neighbours: str, seen: set[str], depth: int) -> list[LineageNode]:
        found = graph.upstream(name) if neighbours == "up" else graph.downstream(name)
        nodes = []
        for other in sorted(found):
            if other in seen or depth >= MAX_DEPTH:
                nodes.append(LineageNode(other, states.get(other, "?"), repeated=True))
                continue
            seen.add(other)
            nodes.append(
                LineageNode(other, states.get(other, "?"), walk(other, neighbours, seen, depth + 1))
            )
        return nodes

    return LineageView(
        LineageNode(asset, states.get(asset, "?")),
        walk(asset, "up", set(), 0),
        walk(asset, "down", set(), 0),
    )
