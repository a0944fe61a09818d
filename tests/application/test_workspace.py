"""The operations take a Workspace (config, graph, listeners, clock), not the Project facade:
they run without one, hear of runs through the workspace's listeners, and read the time from
its clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from helpers import ProjectFactory

from assetflow.application import operations
from assetflow.application.workspace import Workspace
from assetflow.config.loading import load_definitions
from assetflow.config.models import find_config, load_config
from assetflow.graph.asset_graph import AssetGraph
from assetflow.records import PartitionStatus
from assetflow.runner.events import RunListener
from assetflow.runner.results import RunResult

PIPELINE = """
from assetflow import DailyPartitions, asset

@asset(partitions=DailyPartitions(start="2024-01-01"))
def raw(context):
    return context.warehouse.sql("select 1 as v")
"""


Clock = Callable[[], datetime]


class Heard(RunListener):
    def __init__(self) -> None:
        self.finished: list[RunResult] = []

    def run_finished(self, result: RunResult) -> None:
        self.finished.append(result)


def workspace_of(root: Path, listeners: tuple[object, ...], clock: Clock) -> Workspace:
    """What ``Project.load`` composes, composed by hand: no Project anywhere."""
    config = load_config(find_config(root))
    definitions = load_definitions(config)
    graph = AssetGraph(definitions.assets, definitions.checks)
    return Workspace(config, graph, listeners, clock)


def test_operations_plan_and_run_from_a_workspace_at_its_clock(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    root = make_project(pipeline=PIPELINE)
    heard = Heard()
    # Noon on 2024-01-03: the partitions of the 1st and the 2nd are due, nothing later.
    workspace = workspace_of(
        root, listeners=(heard,), clock=lambda: datetime(2024, 1, 3, 12, tzinfo=UTC)
    )
    scope = operations.Scope(("raw",))

    plan = operations.make_plan(workspace, scope)
    assert [step.partition for step in plan.steps] == ["2024-01-01", "2024-01-02"]

    result = operations.execute(workspace, plan, scope)
    assert result.status == "success"
    assert [r.run_id for r in heard.finished] == [result.run_id]

    statuses = operations.statuses(workspace, scope)
    assert {(s.partition, s.status) for s in statuses} == {
        ("2024-01-01", PartitionStatus.FRESH),
        ("2024-01-02", PartitionStatus.FRESH),
    }
    assert operations.make_plan(workspace, scope).is_empty
