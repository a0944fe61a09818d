"""Which partitions of the selected assets a command means: all, one key, or a key range.

A key or range is read in the partitions of the first selected asset that parses it; other
time-partitioned assets then take the partitions whose windows overlap that time span (so
``--from 2024-01-01 --to 2024-01-31`` means January for a daily asset and ``2024-01`` for a
monthly one), and unpartitioned assets their one partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from assetflow.errors import PartitionError
from assetflow.graph import AssetGraph
from assetflow.partitions import PartitionsDefinition, TimeWindowPartitions
from assetflow.planner.keys import ExistingKeys

Node = tuple[str, str]


def _parses(definition: PartitionsDefinition, keys: Sequence[str], now: datetime) -> bool:
    try:
        for key in keys:
            definition.validate_key(key, now)
    except PartitionError:
        return False
    return True


def resolve_targets(
    graph: AssetGraph,
    assets: Sequence[str],
    now: datetime,
    partition: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> list[Node]:
    """The (asset, partition) targets of a command, validated, in asset order."""
    existing = ExistingKeys(graph, now)
    if partition is not None and (first is not None or last is not None):
        raise PartitionError("give either --partition or --from/--to, not both")
    if partition is None and first is None and last is None:
        return [(name, key) for name in assets for key in existing.keys(name)]
    partitioned = [name for name in assets if graph[name].partitions.kind != "none"]
    if not partitioned:
        raise PartitionError(
            f"no selected asset is partitioned ({', '.join(assets)}); drop --partition/--from/--to"
        )
    if partition is not None:
        first = last = partition
    first, last = _fill_range(graph, existing, partitioned, first, last)
    reference = next(
        (name for name in partitioned if _parses(graph[name].partitions, [first, last], now)),
        None,
    )
    if reference is None:
        # Report the first asset's own complaint: it names the key and the definition.
        graph[partitioned[0]].partitions.key_range(first, last, now)
        raise PartitionError(f"'{first}'..'{last}' are not partitions of {partitioned[0]}")
    ref_def = graph[reference].partitions
    keys = ref_def.key_range(first, last, now)
    span = _span(ref_def, first, last)
    targets: list[Node] = []
    for name in assets:
        definition = graph[name].partitions
        if definition.kind == "none":
            targets.append((name, "-"))
        elif definition == ref_def or _parses(definition, [first, last], now):
            own = keys if definition == ref_def else definition.key_range(first, last, now)
            targets.extend((name, key) for key in own)
        elif isinstance(definition, TimeWindowPartitions) and span is not None:
            targets.extend((name, key) for key in _overlapping(definition, existing, name, span))
        else:
            raise PartitionError(
                f"asset '{name}' ({definition}) has no partitions matching "
                f"'{first}'..'{last}' of {reference}; select it separately"
            )
    return targets


def _fill_range(
    graph: AssetGraph,
    existing: ExistingKeys,
    partitioned: Sequence[str],
    first: str | None,
    last: str | None,
) -> tuple[str, str]:
    """A missing --from or --to defaults to the first/last due partition of the first asset."""
    if first is not None and last is not None:
        return first, last
    keys = existing.keys(partitioned[0])
    if not keys:
        raise PartitionError(f"asset '{partitioned[0]}' has no due partitions yet")
    return first or keys[0], last or keys[-1]


def _span(
    definition: PartitionsDefinition, first: str, last: str
) -> tuple[datetime, datetime] | None:
    if not isinstance(definition, TimeWindowPartitions):
        return None
    # In UTC: Python compares datetimes sharing one tzinfo by wall clock, wrong across DST.
    return (
        definition.time_window(first)[0].astimezone(UTC),
        definition.time_window(last)[1].astimezone(UTC),
    )


def _overlapping(
    definition: TimeWindowPartitions,
    existing: ExistingKeys,
    name: str,
    span: tuple[datetime, datetime],
) -> list[str]:
    start, end = span
    result = []
    for key in existing.keys(name):
        window_start, window_end = definition.time_window(key)
        if window_start.astimezone(UTC) < end and window_end.astimezone(UTC) > start:
            result.append(key)
    return result
