"""The definitions ``partitions = {...}`` and ``deps = {...}`` tables declare, built from their
validated shapes (:mod:`assetflow.config.partition_specs`) without pydantic, so that a project
whose ``assets.toml`` comes from the config cache loads without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.errors import DefinitionError
from assetflow.mappings.core import (
    AllPartitionsMapping,
    IdentityMapping,
    LastPartitionMapping,
    PartitionMapping,
    StaticMapping,
    TimeWindowMapping,
)
from assetflow.partitions.core import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    WeeklyPartitions,
)

if TYPE_CHECKING:
    from assetflow.config.partition_specs import MappingSpec, PartitionsSpec

__all__ = ["mapping_from_spec", "partitions_from_spec"]

_TIME_KINDS: dict[str, type[PartitionsDefinition]] = {
    "hourly": HourlyPartitions,
    "daily": DailyPartitions,
    "weekly": WeeklyPartitions,
    "monthly": MonthlyPartitions,
}


def partitions_from_spec(spec: PartitionsSpec, where: str) -> PartitionsDefinition:
    """The partition definition a ``partitions = {...}`` table declares."""
    try:
        window = spec.time_window
        if window is not None:
            factory = _TIME_KINDS[spec.kind]
            return factory(start=window.start, end=window.end, timezone=window.timezone)  # type: ignore[call-arg]
        if spec.static is not None:
            return StaticPartitions(spec.static)
        assert spec.multi is not None
        return MultiPartitions(
            {
                name: partitions_from_spec(inner, f"{where}.multi.{name}")
                for name, inner in spec.multi.items()
            }
        )
    except DefinitionError as exc:
        if str(exc).startswith("assets.toml"):
            raise
        raise DefinitionError(f"assets.toml: {where}: {exc}") from None


def mapping_from_spec(spec: MappingSpec, where: str) -> PartitionMapping:
    """The partition mapping a ``deps = { name = ... }`` value declares."""
    if spec.kind == "identity":
        return IdentityMapping()
    if spec.kind == "all":
        return AllPartitionsMapping()
    if spec.kind == "last":
        return LastPartitionMapping()
    if spec.kind == "time_window":
        assert spec.time_window is not None
        return TimeWindowMapping(
            start_offset=spec.time_window.start_offset, end_offset=spec.time_window.end_offset
        )
    assert spec.static is not None
    try:
        return StaticMapping({key: list(values) for key, values in spec.static.items()})
    except DefinitionError as exc:
        raise DefinitionError(f"assets.toml: {where}: {exc}") from None
