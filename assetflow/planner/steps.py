"""Plan steps as frozen data, and runs of alike steps kept as key ranges.

A plan for a million missing partitions of one asset is a million steps that differ only in
their key: the same status, the same reasons, no step to wait for. :class:`PlanSteps` holds
such steps as :class:`StepRange` segments (index ranges over the asset's keys) between the
steps held one by one, and is still the sequence of every step in execution order: a step
object is made only when someone looks at it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from assetflow.partitions import ranges
from assetflow.partitions.keyspace import KeySequence, keys_between
from assetflow.planner.status import Node, Reason, node_name
from assetflow.records import PartitionStatus


@dataclass(frozen=True)
class PlanStep:
    """One partition to materialize, why, and the steps of the plan it waits for."""

    asset: str
    partition: str
    status: PartitionStatus
    reasons: tuple[Reason, ...]
    depends_on: tuple[Node, ...] = ()

    @property
    def node(self) -> Node:
        return (self.asset, self.partition)

    @property
    def name(self) -> str:
        return node_name(self.node)

    def to_json(self) -> dict[str, Any]:
        """The ``plan --json`` step record (field names are a stable contract)."""
        return {
            "asset": self.asset,
            "partition": self.partition,
            "status": self.status.value,
            "reasons": [reason.to_json() for reason in self.reasons],
            "depends_on": [f"{asset}[{partition}]" for asset, partition in self.depends_on],
        }


class StepRange:
    """Steps of one asset at the keys ``keys[i]`` for ``i`` in ``found`` (index ranges), in
    that order, each with ``status`` and ``reasons`` and no step to wait for."""

    __slots__ = ("asset", "found", "keys", "reasons", "status")

    def __init__(
        self,
        asset: str,
        keys: KeySequence,
        found: ranges.Ranges,
        status: PartitionStatus,
        reasons: tuple[Reason, ...],
    ) -> None:
        self.asset, self.keys, self.found = asset, keys, found
        self.status, self.reasons = status, reasons

    def __len__(self) -> int:
        return ranges.count(self.found)

    def key(self, n: int) -> str:
        """The key of the ``n``-th step."""
        return self.keys[ranges.nth(self.found, n)]

    def split(self, n: int) -> tuple[StepRange, StepRange]:
        """The first ``n`` steps and the rest."""
        if n <= 0:
            return StepRange(self.asset, self.keys, (), self.status, self.reasons), self
        cut = ranges.nth(self.found, n - 1) + 1
        head = ranges.intersect(self.found, ((0, cut),))
        tail = ranges.difference(self.found, ((0, cut),))
        return (
            StepRange(self.asset, self.keys, head, self.status, self.reasons),
            StepRange(self.asset, self.keys, tail, self.status, self.reasons),
        )

    def key_chunks(self, size: int = 4096) -> Iterator[list[str]]:
        """The keys in order, a list of at most ``size`` at a time."""
        keys, offset = self.keys, self.keys.lo
        for lo, hi in self.found:
            for start in range(lo, hi, size):
                end = min(start + size, hi)
                yield keys_between(keys.definition, offset + start, offset + end, keys.now)

    def steps(self) -> Iterator[PlanStep]:
        for chunk in self.key_chunks():
            for key in chunk:
                yield PlanStep(self.asset, key, self.status, self.reasons)

    def contains(self, node: Node) -> bool:
        if node[0] != self.asset:
            return False
        position = self.keys.position(node[1])
        return position is not None and ranges.contains(self.found, position)


Segment = PlanStep | StepRange


class PlanSteps(Sequence[PlanStep]):
    """Every step of a plan in execution order, as steps and step ranges (see module doc)."""

    def __init__(self, segments: Sequence[Segment] = ()) -> None:
        self.segments = tuple(s for s in segments if isinstance(s, PlanStep) or len(s))
        self._ends: list[int] = []
        total = 0
        for segment in self.segments:
            total += 1 if isinstance(segment, PlanStep) else len(segment)
            self._ends.append(total)

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[PlanStep]:
        for segment in self.segments:
            if isinstance(segment, PlanStep):
                yield segment
            else:
                yield from segment.steps()

    @overload
    def __getitem__(self, index: int) -> PlanStep: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PlanStep]: ...
    def __getitem__(self, index: int | slice) -> PlanStep | Sequence[PlanStep]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        at = bisect.bisect_right(self._ends, index)
        segment = self.segments[at]
        if isinstance(segment, PlanStep):
            return segment
        n = index - (self._ends[at - 1] if at else 0)
        return PlanStep(segment.asset, segment.key(n), segment.status, segment.reasons)

    def __contains__(self, step: object) -> bool:
        return any(step == s for s in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def assets(self) -> list[str]:
        """The assets of the steps, each once, in order of its first step."""
        seen: dict[str, None] = {}
        for segment in self.segments:
            seen.setdefault(segment.asset, None)
        return list(seen)

    def __repr__(self) -> str:
        return f"PlanSteps({len(self)} steps in {len(self.segments)} segments)"


class RangeSeen(Mapping[Node, int | None]):
    """``Plan.seen`` with the steps of step ranges (never made: None) not listed."""

    def __init__(self, listed: Mapping[Node, int | None], runs: Sequence[StepRange]) -> None:
        self.listed = listed
        self.runs = runs

    def __getitem__(self, node: Node) -> int | None:
        if node in self.listed:
            return self.listed[node]
        if any(run.contains(node) for run in self.runs):
            return None
        raise KeyError(node)

    def __iter__(self) -> Iterator[Node]:
        yield from self.listed
        for run in self.runs:
            for step in run.steps():
                yield step.node

    def __len__(self) -> int:
        return len(self.listed) + sum(len(run) for run in self.runs)


class AssetSteps:
    """One asset's steps in a plan, summed up: how many, the first and last, and how many
    have each first reason (its kind, or the status without reasons)."""

    def __init__(
        self, asset: str, count: int, first: PlanStep, last: PlanStep, kinds: dict[str, int]
    ) -> None:
        self.asset, self.count, self.first, self.last, self.kinds = asset, count, first, last, kinds


def summarize(steps: Sequence[PlanStep]) -> list[AssetSteps]:
    """Per asset in order of its first step, without making a step object per range step."""
    found: dict[str, AssetSteps] = {}
    segments = steps.segments if isinstance(steps, PlanSteps) else steps
    for segment in segments:
        if isinstance(segment, PlanStep):
            n, first, last = 1, segment, segment
            reasons, status = segment.reasons, segment.status
        else:
            n = len(segment)
            first = PlanStep(segment.asset, segment.key(0), segment.status, segment.reasons)
            last = PlanStep(segment.asset, segment.key(n - 1), segment.status, segment.reasons)
            reasons, status = segment.reasons, segment.status
        kind = reasons[0].kind.value if reasons else status.value
        row = found.get(segment.asset)
        if row is None:
            found[segment.asset] = AssetSteps(segment.asset, n, first, last, {kind: n})
        else:
            row.count += n
            row.last = last
            row.kinds[kind] = row.kinds.get(kind, 0) + n
    return list(found.values())


def step_assets(steps: Sequence[PlanStep]) -> list[str]:
    """The assets of ``steps``, each once, in order of its first step."""
    if isinstance(steps, PlanSteps):
        return steps.assets()
    return list(dict.fromkeys(step.asset for step in steps))
