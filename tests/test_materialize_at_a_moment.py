"""``Project.materialize(now=...)`` and ``backfill(now=...)`` plan for another moment (as the
scheduler does for a tick) but read history now: earlier successes are not mistaken for work
another run did meanwhile (they used to be skipped as ``materialized by run ID``)."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers import ProjectFactory

from assetflow import Project

PIPELINE = """\
import pyarrow as pa

from assetflow import DailyPartitions, asset


@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-01-04"))
def days(context):
    return pa.table({"day": [context.partition_key]})
"""

PAST = datetime(2024, 1, 5, tzinfo=UTC)


def test_forced_runs_at_a_past_moment_run_every_step(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    project = Project.load(make_project(pipeline=PIPELINE))
    assert project.materialize().status.value == "success"
    again = project.materialize(force=True, now=PAST)
    assert [s.status.value for s in again.steps] == ["success"] * 3, again.steps
    backfilled = project.backfill("days", first="2024-01-01", last="2024-01-03", now=PAST)
    assert [s.status.value for s in backfilled.steps] == ["success"] * 3, backfilled.steps
