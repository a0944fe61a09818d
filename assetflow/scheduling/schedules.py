"""The schedules of a project, as plain data: ``[schedules.NAME]`` tables and per-asset crons.

A ``[schedules.NAME]`` table is the schedule ``NAME``; an asset's own ``schedule=`` is the
schedule ``asset:NAME`` selecting that asset. A tick of either materializes its selection
incrementally, as ``assetflow materialize SELECTION`` would (upstream partitions that are not
fresh included).

Timezones: a ``[schedules.NAME]`` table's ``timezone``, else the project's. An asset's own
schedule is read in the timezone of its time partitions (a daily asset in ``Asia/Seoul`` with
``schedule="0 3 * * *"`` ticks at 03:00 in Seoul), else the project's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assetflow.config.models import ScheduleSection
from assetflow.definitions.assets import AssetDef
from assetflow.partitions.core import MultiPartitions, PartitionsDefinition, TimeWindowPartitions

__all__ = ["ASSET_SCHEDULE_PREFIX", "ScheduleSpec", "asset_timezone", "collect_schedules"]

ASSET_SCHEDULE_PREFIX = "asset:"


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule: its name, cron, timezone and the selection each tick materializes."""

    name: str
    cron: str
    timezone: str
    selection: tuple[str, ...]
    enabled: bool = True
    description: str | None = None

    def describe(self) -> str:
        return f"{self.name} ({self.cron} {self.timezone}: {' '.join(self.selection)})"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
            "select": " ".join(self.selection),
            "enabled": self.enabled,
            "description": self.description,
        }


def asset_timezone(partitions: PartitionsDefinition, default: str) -> str:
    """The timezone an asset's own schedule is read in: its time partitions', else ``default``."""
    if isinstance(partitions, TimeWindowPartitions):
        return partitions.timezone or default
    if isinstance(partitions, MultiPartitions) and partitions.time_dimension is not None:
        return partitions.time_dimension[1].timezone or default
    return default


def collect_schedules(
    sections: Mapping[str, ScheduleSection],
    assets: Sequence[AssetDef],
    default_timezone: str,
) -> list[ScheduleSpec]:
    """Every schedule of a project: the ``[schedules.*]`` tables by name, then assets' own."""
    found = [
        ScheduleSpec(
            name=name,
            cron=section.cron,
            timezone=section.timezone or default_timezone,
            selection=(section.select,),
            enabled=section.enabled,
            description=section.description,
        )
        for name, section in sorted(sections.items())
    ]
    for asset in assets:
        if asset.schedule is None:
            continue
        found.append(
            ScheduleSpec(
                name=ASSET_SCHEDULE_PREFIX + asset.name,
                cron=asset.schedule,
                timezone=asset_timezone(asset.partitions, default_timezone),
                selection=(asset.name,),
                description=f"schedule= of asset {asset.name}",
            )
        )
    return found
