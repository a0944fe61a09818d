"""`why`: the chain of reasons from a partition down to the root cause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assetflow.planner.status import Node, Reason, StatusEvaluator, node_name, short_version
from assetflow.records import MaterializationRecord, PartitionStatus, ReasonKind

MaterializationLookup = Callable[[int], MaterializationRecord | None]

# Reasons worth following upstream, most telling first.
_FOLLOW = (ReasonKind.UPSTREAM_CHANGED, ReasonKind.UPSTREAM_STALE)


@dataclass(frozen=True)
class WhyLink:
    """One link of the chain: a partition, its status and reasons, and how deep it sits."""

    node: Node
    status: PartitionStatus
    reasons: tuple[Reason, ...]
    depth: int
    cause: str | None = None  # for an upstream that changed: why its data changed

    def to_json(self) -> dict[str, object]:
        return {
            "asset": self.node[0],
            "partition": self.node[1],
            "status": self.status.value,
            "reasons": [r.to_json() for r in self.reasons],
            "depth": self.depth,
            "cause": self.cause,
        }


def why(
    evaluator: StatusEvaluator,
    asset: str,
    partition: str,
    lookup: MaterializationLookup | None = None,
    max_depth: int = 100_000,
) -> list[WhyLink]:
    """The reason chain of one partition: itself, then the upstream its first reason names."""
    links: list[WhyLink] = []
    node: Node | None = (asset, partition)
    seen: set[Node] = set()
    depth = 0
    while node is not None and node not in seen and depth < max_depth:
        seen.add(node)
        result = evaluator.status(*node)
        follow = next(
            (r for kind in _FOLLOW for r in result.reasons if r.kind is kind and r.upstream),
            None,
        )
        cause = _change_cause(evaluator, node, follow, lookup) if follow else None
        links.append(WhyLink(node, result.status, result.reasons, depth, cause))
        node = follow.upstream if follow else None
        depth += 1
    return links


def _change_cause(
    evaluator: StatusEvaluator, node: Node, reason: Reason, lookup: MaterializationLookup | None
) -> str | None:
    """Why an upstream's data changed: its code, or a rematerialization with new data."""
    if reason.kind is not ReasonKind.UPSTREAM_CHANGED or reason.upstream is None:
        return None
    upstream = reason.upstream
    state = evaluator.snapshot.get(node)
    read = None
    if state and state.last_success:
        read = next(
            (i for i in state.last_success.inputs if (i.asset, i.partition) == upstream), None
        )
    up_state = evaluator.snapshot.get(upstream)
    current = up_state.last_success if up_state else None
    if read is None or current is None:
        return None
    old = lookup(read.materialization_id) if lookup and read.materialization_id else None
    if old is not None and old.code_version != current.code_version:
        return (
            f"because code of {upstream[0]} changed ({short_version(old.code_version)} → "
            f"{short_version(current.code_version)})"
        )
    return f"because {node_name(upstream)} was rematerialized with different data"


def render_why(links: list[WhyLink]) -> str:
    """The chain as indented text; the first line reads as one sentence."""
    if not links:
        return ""
    lines = []
    for link in links:
        # A self-dependent chain can be thousands of links long: cap the indentation.
        indent = "  " * min(link.depth, 6)
        head = f"{indent}{node_name(link.node)} is {link.status.value}"
        if not link.reasons:
            lines.append(head)
            continue
        lines.append(f"{head}: {link.reasons[0].detail}")
        for extra in link.reasons[1:]:
            lines.append(f"{indent}  also: {extra.detail}")
        if link.cause:
            lines.append(f"{indent}  {link.cause}")
    return "\n".join(lines)
