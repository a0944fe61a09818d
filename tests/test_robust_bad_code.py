"""Bad input from asset code (issue 6, SPEC 5): each a clear step failure naming the asset and
partition, the rest of the run unaffected. Real subprocesses, real DuckDB files."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import PROJECT_HEADER, run_cli, write_project

PIPELINE = """
import time
import pyarrow as pa
from assetflow import asset, DailyPartitions

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-05")


@asset(partitions=DAYS)
def shapes(context):
    day = context.partition_key
    if day == "2024-01-02":
        return {1, 2, 3}  # not a table: unsupported
    if day == "2024-01-03":
        return pa.table({"v": ["text"]})  # the column was an integer on other days
    return pa.table({"v": [1]})


@asset(partitions=DAYS, timeout=3)
def hangs(context):
    if context.partition_key == "2024-01-04":
        time.sleep(30)
    return pa.table({"v": [1]})


@asset(partitions=DAYS)
def independent(context):
    return pa.table({"day": [context.partition_key]})
"""

TOML = (
    PROJECT_HEADER
    + """
[assets.broken_sql]
sql = "SELECT v, 1 / 0 AS boom, error('bad row ' || v) FROM shapes"
partitions = { daily = { start = "2024-01-01", end = "2024-01-05" } }
"""
)


def test_bad_asset_code_fails_its_step_names_it_and_the_rest_of_the_run_goes_on(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, TOML, pipeline=PIPELINE)
    code, out, err = run_cli(["materialize", "*", "--json"], tmp_path, timeout=120)
    assert code == 1, err
    steps = {(s["asset"], s["partition"]): s for s in json.loads(out)["steps"]}

    unsupported = steps[("shapes", "2024-01-02")]
    assert unsupported["status"] == "failed"
    assert "shapes" in unsupported["error"] and "2024-01-02" in unsupported["error"]
    assert "set" in unsupported["error"]

    schema = steps[("shapes", "2024-01-03")]
    assert schema["status"] == "failed"
    assert "2024-01-03" in schema["error"] and "v" in schema["error"]

    timed_out = steps[("hangs", "2024-01-04")]
    assert timed_out["status"] == "failed"
    assert "timed out" in timed_out["error"]

    for day in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"):
        assert steps[("independent", day)]["status"] == "success"
        assert steps[("broken_sql", day)]["status"] in ("failed", "skipped")
    assert steps[("shapes", "2024-01-01")]["status"] == "success"
    assert steps[("hangs", "2024-01-01")]["status"] == "success"
    sql_failed = steps[("broken_sql", "2024-01-01")]
    assert sql_failed["status"] == "failed"
    assert "bad row" in sql_failed["error"]
    # Downstream of a failed partition: skipped, naming it.
    assert steps[("broken_sql", "2024-01-02")]["reason"] == "upstream failed: shapes[2024-01-02]"

    code, out, err = run_cli(["runs", "--json"], tmp_path)
    assert code == 0, err
    assert [r["status"] for r in json.loads(out)["runs"]] == ["failed"]
