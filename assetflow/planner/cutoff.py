"""Early cutoff inside a run: a step planned only because of upstream changes is not run when
every input it reads came out of the run with the data version its last success read.

A plan is fixed before its run: ``daily_revenue[2024-01-03]`` is planned because
``orders_cleaned[2024-01-03]`` is stale (its code changed). Whether the rematerialized upstream
produces another data version is known only once it ran. When the step's turn comes, the runner
compares what the step would read now with what its last success read (:func:`unchanged`);
equal, the step is skipped (:data:`UNCHANGED_INPUTS`) and its partition stays fresh: running a
deterministic function on the same inputs with the same code would make the same data again.

Only steps whose every reason is about upstream data (:data:`CUTOFF_KINDS`) qualify: a step
with changed code, a new or removed input, a failure, missing or damaged data, or included by
``--force`` always runs. Pure functions over plain data; the runner calls them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from assetflow.planner.status import Reason
from assetflow.records import PartitionState, ReasonKind

Node = tuple[str, str]
# What a partition reads: each upstream partition and its data version (None: not materialized).
Reads = Mapping[Node, str | None]

# The reasons a re-evaluation with the versions made in the run can answer.
CUTOFF_KINDS = frozenset(
    {ReasonKind.UPSTREAM_CHANGED, ReasonKind.UPSTREAM_STALE, ReasonKind.SOURCE_CHANGED}
)
# The skip reason of a step cut off (``materialize --json``: status ``skipped``).
UNCHANGED_INPUTS = "unchanged inputs"


def may_cut_off(reasons: Iterable[Reason]) -> bool:
    """Whether a step planned for ``reasons`` is planned only because of upstream changes."""
    kinds = {reason.kind for reason in reasons}
    return bool(kinds) and kinds <= CUTOFF_KINDS


def last_read(state: PartitionState | None) -> dict[Node, str | None] | None:
    """What the last success of a partition read (None: no success, or a failure since)."""
    if state is None or state.last_success is None or state.latest_failed:
        return None
    return {(i.asset, i.partition): i.data_version for i in state.last_success.inputs}


def cutoff_reads(
    chosen: Mapping[Node, Iterable[Reason]], snapshot: Mapping[Node, PartitionState]
) -> dict[Node, dict[Node, str | None]]:
    """For each chosen step early cutoff may skip, what its last success read (``Plan.read``)."""
    reads: dict[Node, dict[Node, str | None]] = {}
    for node, reasons in chosen.items():
        read = last_read(snapshot.get(node))
        if read is not None and may_cut_off(reasons):
            reads[node] = read
    return reads


def unchanged(read: Reads, now: Reads) -> bool:
    """Whether a step reads ``now`` exactly what its last success read: the same upstream
    partitions, each at the same data version."""
    return len(read) == len(now) and all(
        node in read and read[node] == version for node, version in now.items()
    )
