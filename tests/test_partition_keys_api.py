"""Project.partition_keys: an empty bound is a bad key, never "from the first partition"
(the UI's backfill form calls it; an empty From once meant the whole range)."""

from __future__ import annotations

import pytest
from helpers import ProjectFactory

from assetflow import Project
from assetflow.errors import AssetflowError

PIPELINE = """
from assetflow import DailyPartitions, asset

@asset(partitions=DailyPartitions(start="2024-01-01", end="2024-02-01"), io="none")
def days():
    return None
"""


@pytest.mark.parametrize(("first", "last"), [("", "2024-01-03"), ("2024-01-02", ""), ("", "")])
def test_an_empty_bound_is_refused(
    make_project: ProjectFactory, clean_imports: None, first: str, last: str
) -> None:
    project = Project.load(make_project(pipeline=PIPELINE))
    with pytest.raises(AssetflowError, match="''"):
        project.partition_keys("days", first=first, last=last)


def test_a_missing_bound_is_the_first_or_last_key(
    make_project: ProjectFactory, clean_imports: None
) -> None:
    project = Project.load(make_project(pipeline=PIPELINE))
    assert project.partition_keys("days", last="2024-01-02") == ["2024-01-01", "2024-01-02"]
    assert project.partition_keys("days", first="2024-01-30") == ["2024-01-30", "2024-01-31"]
