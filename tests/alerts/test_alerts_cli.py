"""End to end through the real CLI (subprocesses): a run with a failed step alerts its sinks and
records the delivery; a dead sink is a recorded failed delivery that changes nothing about the
run; ``assetflow alerts test`` reports per sink with its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alert_http import AlertServer, dead_url
from helpers import cli_env, write_project

from assetflow.store import StateStore

PIPELINE = """\
from assetflow import asset

@asset(io="none")
def good(context):
    return None

@asset(io="none")
def bad(context):
    raise ValueError("boom")

@asset(io="none", deps=["bad"])
def after_bad(context):
    return None
"""


def project(root: Path, sinks: str) -> Path:
    toml = f'[project]\nname = "shop"\nmodules = ["pipeline"]\n{sinks}'
    return write_project(root, toml, pipeline=PIPELINE)


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {**cli_env(), "ASSETFLOW_ALERT_BACKOFF_S": "0.01", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "assetflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_a_failed_run_alerts_and_records_the_delivery(tmp_path: Path, server: AlertServer) -> None:
    server.script("/pd", 202)
    root = project(
        tmp_path / "p",
        f'[[alerts]]\nkind = "webhook"\nurl_env = "AF_HOOK"\n'
        f'[[alerts]]\nkind = "pagerduty"\nurl = "{server.url("/pd")}"\n'
        'routing_key_env = "AF_PD"\nname = "oncall"\n'
        f'[[alerts]]\nkind = "slack"\nurl = "{server.url("/slack")}"\non = ["freshness"]\n',
    )
    env = {"AF_HOOK": server.url("/hook"), "AF_PD": "pd-secret"}
    code, out, err = cli(["materialize", "*", "--json"], root, env)
    assert code == 1, err
    run = json.loads(out)
    assert {s["asset"]: s["status"] for s in run["steps"]} == {
        "good": "success",
        "bad": "failed",
        "after_bad": "skipped",
    }
    (hook,) = server.bodies("/hook")
    assert hook == {
        "version": 1,
        "event": "failure",
        "project": "shop",
        "asset": "bad",
        "partition": None,
        "run_id": run["run_id"],
        "severity": "error",
        "summary": f"bad failed in run {run['run_id']}: ValueError: boom",
        "detail": "ValueError: boom",
        "dedup_key": "assetflow/shop/failure/bad",
        "at": hook["at"],
    }
    (pd,) = server.bodies("/pd")
    assert (pd["routing_key"], pd["event_action"]) == ("pd-secret", "trigger")
    assert pd["dedup_key"] == "assetflow/shop/failure/bad"
    assert server.bodies("/slack") == []  # not listening for failures
    recorded = StateStore(root / ".assetflow" / "state.duckdb").deliveries()
    assert sorted((d.sink, d.status, d.run_id) for d in recorded) == [
        ("oncall", "delivered", run["run_id"]),
        ("webhook#1", "delivered", run["run_id"]),
    ]
    assert "pd-secret" not in out + err


def test_a_dead_sink_changes_nothing_about_the_run(tmp_path: Path) -> None:
    plain = project(tmp_path / "plain", "")
    alerted = project(tmp_path / "alerted", f'[[alerts]]\nkind = "webhook"\nurl = "{dead_url()}"\n')
    code_plain, out_plain, _ = cli(["materialize", "*", "--json"], plain)
    code, out, err = cli(["materialize", "*", "--json"], alerted)
    assert code == code_plain == 1
    assert "alert failure not delivered to webhook#1" in err  # a warning, not an error

    def strip(document: str) -> list[tuple[str, str, str | None]]:
        return [(s["asset"], s["status"], s["error"]) for s in json.loads(document)["steps"]]

    assert strip(out) == strip(out_plain)
    store = StateStore(alerted / ".assetflow" / "state.duckdb")
    (delivery,) = store.deliveries()
    assert (delivery.status, delivery.attempts, delivery.event) == ("failed", 4, "failure")
    assert delivery.error == "connection failed: Connection refused"
    (recorded_run,) = store.runs()
    assert recorded_run.run.status == "failed"
    # A run that succeeds sends nothing, and stays a success.
    code, _, _ = cli(["materialize", "good"], alerted)
    assert code == 0 and len(store.deliveries()) == 1


def test_alerts_test_command(tmp_path: Path, server: AlertServer) -> None:
    server.script("/pd", 202)
    sinks = (
        f'[[alerts]]\nkind = "slack"\nurl_env = "AF_SLACK"\n'
        f'[[alerts]]\nkind = "pagerduty"\nurl = "{server.url("/pd")}"\n'
        'routing_key_env = "AF_PD"\non = ["recovered"]\n'
        f'[[alerts]]\nkind = "webhook"\nurl = "{server.url("/hook")}"\nname = "ops"\n'
    )
    root = project(tmp_path / "p", sinks)
    env = {"AF_SLACK": server.url("/slack"), "AF_PD": "pd-secret"}
    code, out, err = cli(["alerts", "test"], root, env)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "slack#1 (slack): delivered",
        "pagerduty#2 (pagerduty): delivered",
        "ops (webhook): delivered",
    ]
    assert server.bodies("/slack") == [
        {"text": "[shop] Test alert: test alert from assetflow project shop"}
    ]
    assert server.bodies("/hook")[0]["event"] == "test"
    assert server.bodies("/pd")[0]["payload"]["severity"] == "info"

    server.script("/hook", 500)
    code, out, _ = cli(["alerts", "test", "--json"], root, env)
    assert code == 1
    by_sink = {d["sink"]: d for d in json.loads(out)["deliveries"]}
    assert by_sink["ops"] == {
        "sink": "ops",
        "kind": "webhook",
        "status": "failed",
        "attempts": 4,
        "http_status": 500,
        "error": "HTTP 500 Internal Server Error",
    }

    code, out, err = cli(["alerts", "test"], root, {"AF_PD": "pd-secret", "AF_SLACK": ""})
    assert code == 2
    assert "slack#1 (slack): failed: environment variable AF_SLACK (url_env) is not set" in out
    assert "error: alert sink slack#1: environment variable AF_SLACK" in err
    assert "pd-secret" not in out + err

    bare = project(tmp_path / "bare", "")
    code, _, err = cli(["alerts", "test"], bare)
    assert code == 2 and "no [[alerts]] configured" in err
    assert os.environ.get("AF_PD") is None
