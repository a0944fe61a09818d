"""Hostile asset code (issue 13, items 2-6): whatever an asset emits, raises or leaves behind,
it fails at most its own step, its output never breaks the CLI's, and the run is recorded.
Real CLI subprocesses on real DuckDB files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_HEADER, cli_env, run_cli, write_project

PIPELINE = r"""
import os
import sys
import threading
import time

from assetflow import StaticPartitions, asset

KEYS = StaticPartitions(["a", "b", "c"])
LATIN1_NAME = os.fsdecode(b"caf\xe9.csv")  # what os.listdir gives for a Latin-1 file name


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


class SelfRef(dict):
    pass


@asset(partitions=KEYS)
def noisy(context):
    key = context.partition_key
    print("asset output on stdout", key)
    print("asset output on stderr", key, file=sys.stderr)
    if key == "a":
        context.log.warning("found %s", LATIN1_NAME)
        context.log.info("nul \x00 byte and a lone surrogate \udcff")
        context.log.info("%d bad format", "not a number")
        loop = {"k": 1}
        loop["self"] = loop
        context.add_metadata(
            {"file": LATIN1_NAME, ("tuple", "key"): 1, "loop": loop, "nan": float("nan"),
             "obj": object(), 3: {1, 2}, "bytes": b"\xff\x00"}
        )
    if key == "b":
        raise ValueError("cannot read " + LATIN1_NAME)
    if key == "c":
        raise Unprintable()
    return None


@asset(partitions=KEYS)
def exits(context):
    if context.partition_key == "a":
        sys.exit(0)
    if context.partition_key == "b":
        raise KeyboardInterrupt
    if context.partition_key == "c":
        raise SystemExit("asset said stop")
    return None


@asset
def lingers(context):
    threading.Thread(target=time.sleep, args=(3600,), daemon=False).start()
    return None


@asset
def fine(context):
    return None
"""

TOML = PROJECT_HEADER + '[storage]\nwarehouse = "warehouse.duckdb"\n\n[assets.noisy]\nio = "none"\n'


def _project(tmp_path: Path) -> Path:
    return write_project(tmp_path, TOML, pipeline=PIPELINE)


def _state(root: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_any_text_an_asset_emits_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    root = _project(tmp_path)
    code, out, err = run_cli(["materialize", "noisy", "fine", "--json"], root, timeout=120)
    assert code == 1, err  # b and c failed, a succeeded
    assert "Traceback" not in err, err
    document = json.loads(out)  # item 5: stdout holds only the JSON document
    steps = {(s["asset"], s["partition"]): s for s in document["steps"]}
    assert steps[("noisy", "a")]["status"] == "success"
    assert steps[("fine", "-")]["status"] == "success"
    assert steps[("noisy", "b")]["status"] == "failed"
    assert "caf" in steps[("noisy", "b")]["error"]
    # item 4: an exception whose __str__ raises still fails its step with a readable description
    assert steps[("noisy", "c")]["status"] == "failed"
    assert "Unprintable" in steps[("noisy", "c")]["error"]
    # the run and every step are recorded
    assert _state(root, "SELECT status FROM runs") == [("failed",)]
    recorded = _state(root, "SELECT asset, partition, status FROM materializations ORDER BY 1, 2")
    assert recorded == [
        ("fine", "-", "success"),
        ("noisy", "a", "success"),
        ("noisy", "b", "failed"),
        ("noisy", "c", "failed"),
    ]
    messages = [m for (m,) in _state(root, "SELECT message FROM logs")]
    assert any("caf" in m and "csv" in m for m in messages), messages
    assert any("nul" in m for m in messages), messages
    assert any("bad format" in m for m in messages), messages  # a broken format string too
    (metadata,) = _state(
        root, "SELECT metadata FROM materializations WHERE asset = 'noisy' AND partition = 'a'"
    )[0]
    stored = json.loads(str(metadata))
    assert "caf" in stored["file"] and "loop" in stored and "nan" in stored
    # the asset's own prints went to stderr, with the logs, never to the JSON on stdout
    assert "asset output on stdout a" in err
    code, out, err = run_cli(["logs", "noisy", "a"], root)
    assert code == 0, err
    assert "caf" in out


def test_sys_exit_and_keyboard_interrupt_in_an_asset_fail_only_their_step(tmp_path: Path) -> None:
    root = _project(tmp_path)
    code, out, err = run_cli(["materialize", "exits", "fine", "--json"], root, timeout=120)
    assert code == 1, err  # not 0 (sys.exit(0)), not 130 (KeyboardInterrupt): steps failed
    steps = {(s["asset"], s["partition"]): s for s in json.loads(out)["steps"]}
    assert steps[("exits", "a")]["status"] == "failed"
    assert "SystemExit" in steps[("exits", "a")]["error"]
    assert steps[("exits", "b")]["status"] == "failed"
    assert "KeyboardInterrupt" in steps[("exits", "b")]["error"]
    assert steps[("exits", "c")]["status"] == "failed"
    assert "asset said stop" in steps[("exits", "c")]["error"]
    assert steps[("fine", "-")]["status"] == "success"
    assert _state(root, "SELECT status FROM runs") == [("failed",)]


def test_a_thread_left_running_by_an_asset_does_not_keep_the_command_alive(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "assetflow", "materialize", "lingers", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,  # the thread sleeps an hour: without the fix the command never returns
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "success"
    assert _state(root, "SELECT status FROM runs") == [("success",)]


def test_what_an_asset_prints_is_stored_with_its_step(tmp_path: Path) -> None:
    root = _project(tmp_path)
    code, out, err = run_cli(["materialize", "noisy", "--partition", "a", "--json"], root)
    assert code == 0, err
    json.loads(out)
    code, out, err = run_cli(["logs", "noisy", "a", "--json"], root)
    assert code == 0, err
    lines = json.loads(out)["logs"]
    assert any(line["message"] == "asset output on stdout a" for line in lines), lines
    assert any(line["message"] == "asset output on stderr a" for line in lines), lines


def test_json_in_process_goes_to_the_callers_stdout(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_imports: None,
) -> None:
    """Embedded use (`assetflow.cli.run` with a replaced sys.stdout): the document reaches that
    stdout, and what the assets print does not."""
    from assetflow.cli import run

    root = _project(tmp_path)
    monkeypatch.chdir(root)
    capsys.readouterr()
    code = run(["materialize", "noisy", "--partition", "a", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["status"] == "success"
    assert "asset output on stdout a" in err
