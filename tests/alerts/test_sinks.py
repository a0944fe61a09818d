"""The exact JSON each sink posts, the webhook body's documented fields, and secrets: read from
the environment at send time, never recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alert_http import AlertServer

from assetflow.alerts import AlertEvent, EventKind, Severity, send
from assetflow.alerts.delivery import RetryPolicy
from assetflow.alerts.events import failure_events, freshness_event, recovered_event
from assetflow.alerts.sinks import pagerduty_body, slack_body, webhook_body
from assetflow.config.alert_sections import AlertSection
from assetflow.records import RunStatus, StepStatus
from assetflow.runner.results import RunResult, StepResult
from assetflow.store import StateStore

AT = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=3, backoff=0.0, deadline=5.0)


def failed_run() -> RunResult:
    return RunResult(
        run_id="20240310-120000-abcdef",
        status=RunStatus.FAILED,
        steps=(
            StepResult("orders", "2024-03-09", StepStatus.FAILED, 2, 1.0, "ValueError: boom"),
            StepResult("report", "-", StepStatus.SKIPPED, reason="upstream failed"),
            StepResult("customers", "-", StepStatus.SUCCESS, 1, 0.1),
        ),
    )


def test_failure_event_per_failed_asset() -> None:
    (event,) = failure_events("shop", failed_run(), AT)
    assert event == AlertEvent(
        kind=EventKind.FAILURE,
        project="shop",
        summary="orders[2024-03-09] failed in run 20240310-120000-abcdef: ValueError: boom",
        severity=Severity.ERROR,
        dedup_key="assetflow/shop/failure/orders[2024-03-09]",
        at=AT,
        asset="orders",
        partition="2024-03-09",
        run_id="20240310-120000-abcdef",
        detail="ValueError: boom",
    )


def test_many_failed_partitions_of_one_asset_make_one_event() -> None:
    steps = tuple(
        StepResult("orders", f"2024-03-0{d}", StepStatus.FAILED, 1, 0.0, f"KeyError: {d}")
        for d in range(1, 9)
    )
    (event,) = failure_events("shop", RunResult("r1", RunStatus.FAILED, steps), AT)
    assert event.partition is None and event.dedup_key == "assetflow/shop/failure/orders"
    assert event.summary == (
        "orders (8 partitions: 2024-03-01, 2024-03-02, 2024-03-03, 2024-03-04, 2024-03-05"
        " and 3 more) failed in run r1: KeyError: 1"
    )


def test_slack_body() -> None:
    (event,) = failure_events("shop", failed_run(), AT)
    assert slack_body(event) == {
        "text": "[shop] Run failed: orders[2024-03-09] failed in run "
        "20240310-120000-abcdef: ValueError: boom"
    }


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    overdue = freshness_event("shop", "orders", None, "not materialized ever (max lag 1:00:00)", AT)
    assert pagerduty_body(overdue, "KEY") == {
        "routing_key": "KEY",
        "event_action": "trigger",
        "dedup_key": "assetflow/shop/freshness/orders",
        "payload": {
            "summary": "orders is overdue: not materialized ever (max lag 1:00:00)",
            "source": "assetflow/shop",
            "severity": "warning",
            "timestamp": "2024-03-10T12:00:00+00:00",
            "class": "freshness",
            "component": "orders",
            "custom_details": {
                "event": "freshness",
                "asset": "orders",
                "detail": "not materialized ever (max lag 1:00:00)",
            },
        },
    }
    recovered = recovered_event("shop", "orders", None, "materialized", AT)
    assert pagerduty_body(recovered, "KEY") == {
        "routing_key": "KEY",
        "event_action": "resolve",
        "dedup_key": "assetflow/shop/freshness/orders",
    }


def test_webhook_body_has_every_documented_field() -> None:
    event = freshness_event("shop", "daily", "2024-03-09", "late", AT)
    assert webhook_body(event) == {
        "version": 1,
        "event": "freshness",
        "project": "shop",
        "asset": "daily",
        "partition": "2024-03-09",
        "run_id": None,
        "severity": "warning",
        "summary": "daily[2024-03-09] is overdue: late",
        "detail": "late",
        "dedup_key": "assetflow/shop/freshness/daily[2024-03-09]",
        "at": "2024-03-10T12:00:00+00:00",
    }
    documented = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    for field in webhook_body(event):
        assert f"`{field}`" in documented, field


def sections(server: AlertServer) -> list[AlertSection]:
    return [
        AlertSection(kind="slack", url_env="T_SLACK_URL", on=["failure"]),
        AlertSection(
            kind="pagerduty",
            url=server.url("/pd"),
            routing_key_env="T_PD_KEY",
            on=["failure"],
            name="oncall",
        ),
        AlertSection(kind="webhook", url=server.url("/hook"), on=["failure"]),
        AlertSection(kind="webhook", url=server.url("/never"), on=["freshness"]),
    ]


def test_each_sink_posts_its_exact_body_and_records_it_without_secrets(
    server: AlertServer, tmp_path: Path
) -> None:
    server.script("/pd", 202)
    store = StateStore(tmp_path / "state.duckdb")
    env = {"T_SLACK_URL": server.url("/slack"), "T_PD_KEY": "s3cr3t-routing-key"}
    (event,) = failure_events("shop", failed_run(), AT)
    sent = send(sections(server), store, event, policy=FAST, environ=env)
    assert [(s.sink, s.delivered, s.http_status) for s in sent] == [
        ("slack#1", True, 200),
        ("oncall", True, 202),
        ("webhook#3", True, 200),
    ]
    assert server.bodies("/slack") == [slack_body(event)]
    assert server.bodies("/pd") == [pagerduty_body(event, "s3cr3t-routing-key")]
    assert server.bodies("/hook") == [webhook_body(event)]
    assert server.bodies("/never") == []
    headers = next(r.headers for r in server.requests if r.path == "/hook")
    assert headers["Content-Type"] == "application/json"
    recorded = {d.sink: d for d in store.deliveries()}
    assert set(recorded) == {"slack#1", "oncall", "webhook#3"}
    pd = recorded["oncall"]
    assert (pd.status, pd.attempts, pd.http_status, pd.event) == ("delivered", 1, 202, "failure")
    assert (pd.asset, pd.partition, pd.run_id) == ("orders", "2024-03-09", event.run_id)
    assert pd.body is not None and pd.body["routing_key"] == "<redacted>"
    assert "s3cr3t" not in str(store.deliveries())


def test_a_missing_environment_variable_is_a_recorded_failure(
    server: AlertServer, tmp_path: Path
) -> None:
    store = StateStore(tmp_path / "state.duckdb")
    (event,) = failure_events("shop", failed_run(), AT)
    sent = send(sections(server), store, event, policy=FAST, environ={})
    by_sink = {s.sink: s for s in sent}
    assert by_sink["slack#1"].error == "environment variable T_SLACK_URL (url_env) is not set"
    assert by_sink["oncall"].error == ("environment variable T_PD_KEY (routing_key_env) is not set")
    assert by_sink["webhook#3"].delivered
    failed = [d for d in store.deliveries() if d.status == "failed"]
    assert sorted(d.sink for d in failed) == ["oncall", "slack#1"]
    assert all(d.attempts == 0 for d in failed)
