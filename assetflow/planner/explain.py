"""`why`: the chain of reasons from a partition down to the root cause."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assetflow.planner.status import Node, Reason, StatusEvaluator, node_name, short_version
from assetflow.records import MaterializationRecord, PartitionStatus, ReasonKind

# The successes of a partition in (ended_at, id) order, from the materialization with the given
# id on (all of them if it is None or no longer stored).
SuccessHistory = Callable[[Node, int | None], Sequence[MaterializationRecord]]

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
    successes: SuccessHistory | None = None,
    max_depth: int = 100_000,
) -> list[WhyLink]:
    """The reason chain of one partition: itself, then the upstream its first reason names.

    With ``successes`` (the history of a partition), an upstream that changed says which of its
    materializations changed the data and why (see :func:`change_event`)."""
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
        cause = _change_cause(evaluator, node, follow, successes) if follow else None
        links.append(WhyLink(node, result.status, result.reasons, depth, cause))
        node = follow.upstream if follow else None
        depth += 1
    return links


def _change_cause(
    evaluator: StatusEvaluator, node: Node, reason: Reason, successes: SuccessHistory | None
) -> str | None:
    """Why an upstream's data changed since ``node`` read it: the event that brought in the
    data version it holds now, a code change or new data with the same code."""
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
    unknown = f"because {node_name(upstream)} was rematerialized with different data"
    if successes is None:
        return unknown
    history = list(successes(upstream, read.materialization_id))
    # Successes recorded after the snapshot was read are not what the status is about.
    cut = next((i for i, r in enumerate(history) if r.id == current.materialization_id), None)
    found = change_event(history if cut is None else history[: cut + 1])
    if found is None:
        return unknown
    event, before = found
    if before is None:
        return unknown
    if before.code_version != event.code_version:
        return (
            f"because code of {upstream[0]} changed ({short_version(before.code_version)} → "
            f"{short_version(event.code_version)})"
        )
    return f"because data of {node_name(upstream)} changed (run {event.run_id})"


def change_event(
    successes: Sequence[MaterializationRecord],
) -> tuple[MaterializationRecord, MaterializationRecord | None] | None:
    """Of a partition's successes (oldest first), the one that brought in the data version
    the last one holds, and the success just before it (``None`` if there is none).

    Later successes with the same data version (the same data again, or new code that made
    the same data) changed nothing downstream, so they are never the cause; of several changes
    since a reader read the partition, the latest is the one it sees.
    """
    if not successes:
        return None
    current = successes[-1].data_version
    first = len(successes) - 1
    while first > 0 and successes[first - 1].data_version == current:
        first -= 1
    return successes[first], successes[first - 1] if first > 0 else None


def render_why(links: list[WhyLink], every_reason: bool = False) -> str:
    """The chain as indented text; the first line reads as one sentence.

    Reasons beyond a link's first are grouped per upstream asset and kind with a count (a
    partition can read hundreds of stale upstream partitions); ``every_reason`` lists each.
    """
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
        others = link.reasons[1:]
        also = [r.detail for r in others] if every_reason else grouped_reasons(others)
        lines += [f"{indent}  also: {text}" for text in also]
        if link.cause:
            lines.append(f"{indent}  {link.cause}")
    return "\n".join(lines)


def grouped_reasons(reasons: Sequence[Reason]) -> list[str]:
    """One text per (kind, upstream asset) in order of first appearance: the reason itself if
    it is alone, else ``N partitions of ASSET KIND (FIRST … LAST)``."""
    groups: dict[tuple[ReasonKind, str | None], list[Reason]] = {}
    for reason in reasons:
        asset = reason.upstream[0] if reason.upstream else None
        groups.setdefault((reason.kind, asset), []).append(reason)
    texts = []
    for (kind, asset), members in groups.items():
        if asset is None or len(members) == 1:
            texts += [r.detail for r in members]
            continue
        keys = [r.upstream[1] for r in members if r.upstream is not None]
        texts.append(f"{len(members)} partitions of {asset} {kind.value} ({keys[0]} … {keys[-1]})")
    return texts
