"""A parquet project on ``s3://`` against a real S3 server (issue 16, item 4; SPEC 10).

moto's standalone server runs on 127.0.0.1 (the ``s3_endpoint`` fixture); the project's
``[storage] data`` is ``s3://<bucket>/lake`` with ``storage_options = { endpoint_url = ... }``,
and the credentials are the test's own, from the environment only. Everything goes through the
real CLI in subprocesses: statuses, reasons, history, checks, a re-materialization after an
upstream change, ``verify`` finding a deleted object, and the errors for missing credentials
and a secret in ``storage_options``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import cli_env, run_cli, write_project

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

import fsspec
import pyarrow.parquet as pq  # type: ignore[import-untyped]

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]

TOML = """\
[project]
name = "lake"
modules = ["pipeline"]

[storage]
data = "s3://{bucket}/lake"
storage_options = {{ endpoint_url = "{endpoint}" }}

[assets.daily_totals]
sql = "select day, sum(amount) as total, count(*) as n from orders group by day"
partitions = {{ daily = {{ start = "2024-01-01", end = "2024-01-04" }} }}
io = "parquet"

[assets.summary]
sql = "select count(*) as days, sum(total) as total from daily_totals"
"""

PIPELINE = """
import pyarrow as pa
from assetflow import DailyPartitions, asset, check

DAYS = DailyPartitions(start="2024-01-01", end="2024-01-04")

@asset(partitions=DAYS, io="parquet")
def orders(context):
    return pa.table({{"day": [context.partition_key] * 3, "amount": {amounts}}})

@asset(partitions=DAYS, io="parquet")
def big_orders(orders):
    return orders.filter("amount >= 2")

@check(asset="orders", blocking=True)
def amounts_positive(orders):
    return orders.filter("amount <= 0").count("*").fetchone()[0] == 0
"""


def cli_json(args: list[str], root: Path) -> Any:
    code, out, err = run_cli([*args, "--json"], root)
    assert code == 0, err
    return json.loads(out)


def statuses(root: Path) -> dict[str, tuple[str, list[str]]]:
    found = cli_json(["status", "--partitions"], root)["partitions"]
    return {
        f"{p['asset']}[{p['partition']}]": (p["status"], [r["kind"] for r in p["reasons"]])
        for p in found
    }


def not_fresh(root: Path) -> dict[str, tuple[str, list[str]]]:
    return {name: value for name, value in statuses(root).items() if value[0] != "fresh"}


def summary(root: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.sql("SELECT days, total FROM summary").fetchall()


def test_a_parquet_project_on_s3_through_the_cli(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    toml = TOML.format(bucket=s3_bucket, endpoint=s3_endpoint)
    root = write_project(tmp_path / "lake", toml, pipeline=PIPELINE.format(amounts="[1, 2, 3]"))
    fs = fsspec.filesystem("s3", endpoint_url=s3_endpoint)

    first = cli_json(["materialize", "*"], root)
    assert first["status"] == "success" and first["counts"] == {"success": 10}, first
    objects = {path.split(f"{s3_bucket}/lake/", 1)[1] for path in fs.find(f"{s3_bucket}/lake")}
    assert objects == {
        f"{asset}/{day}.parquet"
        for asset in ("orders", "big_orders", "daily_totals")
        for day in DAYS
    }
    table = pq.read_table(io.BytesIO(fs.cat(f"{s3_bucket}/lake/daily_totals/2024-01-02.parquet")))
    assert table.to_pylist() == [{"day": "2024-01-02", "total": 6, "n": 3}]  # exactly one day
    assert summary(root) == [(3, 18)]
    shown = cli_json(["run", "show", first["run_id"]], root)
    paths = {a["metadata"].get("path") for a in shown["attempts"] if a["asset"] == "orders"}
    assert paths == {f"s3://{s3_bucket}/lake/orders/{day}.parquet" for day in DAYS}
    checks = {c["check"]: c for c in cli_json(["checks", "orders"], root)["checks"]}
    assert checks["amounts_positive"]["failing_partitions"] == []

    # An upstream change: orders' code changes, and everything reading it is made again.
    write_project(root, toml, pipeline=PIPELINE.format(amounts="[1, 2, 7]"))
    stale = not_fresh(root)
    assert [stale[f"orders[{day}]"] for day in DAYS] == [("stale", ["code_changed"])] * 3
    assert stale["summary[-]"] == ("stale", ["upstream_stale"] * 3)  # one per day it reads
    second = cli_json(["materialize", "*"], root)
    assert second["counts"] == {"success": 10}, second
    assert summary(root) == [(3, 30)]
    attempts = cli_json(["run", "show", second["run_id"]], root)["attempts"]
    before = {(a["asset"], a["partition"]): a["data_version"] for a in shown["attempts"]}
    after = {(a["asset"], a["partition"]): a["data_version"] for a in attempts}
    assert len(after) == 10 and all(after[node] != before[node] for node in after)

    # An object deleted behind assetflow's back: data_missing, found by status and by verify.
    fs.rm(f"{s3_bucket}/lake/big_orders/2024-01-03.parquet")
    assert not_fresh(root) == {"big_orders[2024-01-03]": ("stale", ["data_missing"])}
    verified = {
        f"{p['asset']}[{p['partition']}]": p["result"]
        for p in cli_json(["verify"], root)["partitions"]
    }
    assert verified["big_orders[2024-01-03]"] == "missing"
    assert {result for name, result in verified.items() if name != "big_orders[2024-01-03]"} == {
        "ok"
    }
    third = cli_json(["materialize", "*"], root)
    assert [(s["asset"], s["partition"]) for s in third["steps"]] == [("big_orders", "2024-01-03")]
    assert not_fresh(root) == {}
    assert fs.exists(f"{s3_bucket}/lake/big_orders/2024-01-03.parquet")


def test_missing_credentials_fail_the_step_with_a_clear_error(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    toml = TOML.format(bucket=s3_bucket, endpoint=s3_endpoint)
    root = write_project(tmp_path / "lake", toml, pipeline=PIPELINE.format(amounts="[1, 2, 3]"))
    env = cli_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    ran = subprocess.run(
        [sys.executable, "-m", "assetflow", "materialize", "orders", "--partition", DAYS[0]],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    text = ran.stdout + ran.stderr
    assert "Traceback" not in text
    assert f"RemoteDataError: cannot list s3://{s3_bucket}/lake/orders" in text, text
    assert "Unable to locate credentials" in text, text
    assert "credentials come from the environment only" in text, text
    # status still answers: the data it cannot list is not called missing.
    ran = subprocess.run(
        [sys.executable, "-m", "assetflow", "status"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ('{ endpoint_url = "http://x", key = "AKIA" }', "storage.storage_options.key"),
        (
            '{ client_kwargs = { aws_secret_access_key = "s" } }',
            "storage.storage_options.client_kwargs.aws_secret_access_key",
        ),
    ],
)
def test_a_secret_in_storage_options_is_a_load_error(
    tmp_path: Path, options: str, named: str
) -> None:
    toml = f'[project]\nname = "t"\n\n[storage]\ndata = "s3://b/p"\nstorage_options = {options}\n'
    root = write_project(tmp_path / "p", toml)
    code, out, err = run_cli(["status"], root)
    assert code == 2, (out, err)
    assert named in err and "credentials do not belong in assets.toml" in err, err
    assert "Traceback" not in err
