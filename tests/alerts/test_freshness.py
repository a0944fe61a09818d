"""Freshness alerting on real projects with an injected clock: one alert per violation however
often it is checked, ``recovered`` (a PagerDuty ``resolve`` with the same dedup key) when it
clears, and a newer partition falling due does not clear an older one still missing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alert_http import AlertServer
from helpers import ProjectFactory

from assetflow import Project
from assetflow.alerts import RetryPolicy, check_freshness, freshness_violations
from assetflow.records import utcnow

FAST = RetryPolicy(attempts=2, backoff=0.0, deadline=5.0)
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)

UNPARTITIONED = """\
from assetflow import asset

@asset(io="none", freshness={"max_lag": "1h"})
def orders(context):
    return None
"""

DAILY = """\
from assetflow import DailyPartitions, asset

@asset(io="none", partitions=DailyPartitions(start="2024-03-01"), freshness={"max_lag": "1h"})
def daily(context):
    return None

@asset(io="none")
def unwatched(context):
    return None
"""


def sinks(server: AlertServer) -> str:
    return f"""\
[project]
name = "shop"
modules = ["pipeline"]

[[alerts]]
kind = "pagerduty"
url = "{server.url("/pd")}"
routing_key_env = "AF_TEST_PD_KEY"
on = ["freshness", "recovered"]

[[alerts]]
kind = "slack"
url = "{server.url("/slack")}"
on = ["freshness"]
"""


@pytest.fixture(autouse=True)
def routing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AF_TEST_PD_KEY", "rk")


def load(make_project: ProjectFactory, server: AlertServer, pipeline: str) -> Project:
    return Project.load(make_project(sinks(server), pipeline=pipeline))


def actions(server: AlertServer) -> list[tuple[str, str]]:
    return [(b["event_action"], b["dedup_key"]) for b in server.bodies("/pd")]


def test_one_alert_per_violation_then_recovered(
    make_project: ProjectFactory, clean_imports: None, server: AlertServer
) -> None:
    server.script("/pd", 202)
    project = load(make_project, server, UNPARTITIONED)
    key = "assetflow/shop/freshness/orders"
    sent = check_freshness(project, utcnow(), policy=FAST)
    assert [(s.sink, s.delivered, s.event.kind) for s in sent] == [
        ("pagerduty#1", True, "freshness"),
        ("slack#2", True, "freshness"),
    ]
    assert server.bodies("/slack") == [
        {"text": "[shop] Overdue: orders is overdue: not materialized ever (max lag 1:00:00)"}
    ]
    assert check_freshness(project, utcnow(), policy=FAST) == []  # still the same violation
    assert actions(server) == [("trigger", key)]

    assert project.materialize("orders").status == "success"
    (recovered,) = check_freshness(project, utcnow(), policy=FAST)
    assert recovered.event.kind == "recovered" and recovered.delivered
    assert actions(server) == [("trigger", key), ("resolve", key)]
    assert server.bodies("/pd")[-1] == {
        "routing_key": "rk",
        "event_action": "resolve",
        "dedup_key": key,
    }
    assert check_freshness(project, utcnow(), policy=FAST) == []
    assert len(server.bodies("/slack")) == 1  # slack does not listen for recoveries

    later = utcnow() + timedelta(hours=2)  # overdue again: a new violation, a new alert
    assert [s.event.kind for s in check_freshness(project, later, policy=FAST)] == [
        "freshness",
        "freshness",
    ]
    assert actions(server)[-1] == ("trigger", key)
    store = project.store
    assert [i.dedup_key for i in store.open_incidents()] == [key]
    events = sorted((d.event, d.sink, d.status) for d in store.deliveries())
    assert events == [
        ("freshness", "pagerduty#1", "delivered"),
        ("freshness", "pagerduty#1", "delivered"),
        ("freshness", "slack#2", "delivered"),
        ("freshness", "slack#2", "delivered"),
        ("recovered", "pagerduty#1", "delivered"),
    ]


def test_partitioned_violations_are_per_partition(
    make_project: ProjectFactory, clean_imports: None, server: AlertServer
) -> None:
    server.script("/pd", 202)
    project = load(make_project, server, DAILY)
    day9 = "assetflow/shop/freshness/daily[2024-03-09]"
    day10 = "assetflow/shop/freshness/daily[2024-03-10]"
    assert [v.partition for v in freshness_violations(project, NOW)] == ["2024-03-09"]
    by_asset = {r["asset"]: r["overdue"] for r in project.status_counts(now=NOW)}
    assert by_asset == {"daily": True, "unwatched": False}
    check_freshness(project, NOW, policy=FAST)
    assert actions(server) == [("trigger", day9)]
    assert server.bodies("/pd")[0]["payload"]["summary"] == (
        "daily[2024-03-09] is overdue: latest partition 2024-03-09 not materialized by "
        "2024-03-10 01:00"
    )
    # Before 2024-03-10 ends plus the lag, 03-10 is due but not overdue: nothing new.
    assert check_freshness(project, NOW + timedelta(hours=12), policy=FAST) == []
    # A day later 03-10 is overdue too; 03-09 was never materialized, so it stays open.
    later = NOW + timedelta(days=1)
    check_freshness(project, later, policy=FAST)
    assert actions(server) == [("trigger", day9), ("trigger", day10)]

    project.materialize("daily", partition="2024-03-09", now=later)
    (recovered,) = check_freshness(project, later, policy=FAST)
    assert recovered.event.partition == "2024-03-09"
    assert actions(server)[-1] == ("resolve", day9)
    assert [i.dedup_key for i in project.store.open_incidents()] == [day10]


def test_two_checks_at_once_alert_once(
    make_project: ProjectFactory, clean_imports: None, server: AlertServer
) -> None:
    server.script("/pd", 202)
    project = load(make_project, server, UNPARTITIONED)
    now = utcnow()
    threads = [
        threading.Thread(target=check_freshness, args=(project, now), kwargs={"policy": FAST})
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert actions(server) == [("trigger", "assetflow/shop/freshness/orders")]


def test_a_dead_sink_never_raises(
    make_project: ProjectFactory, clean_imports: None, tmp_path: Path
) -> None:
    toml = (
        '[project]\nname = "shop"\nmodules = ["pipeline"]\n'
        '[[alerts]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/x"\non = ["freshness"]\n'
    )
    project = Project.load(make_project(toml, pipeline=UNPARTITIONED))
    (sent,) = check_freshness(project, utcnow(), policy=FAST)
    assert not sent.delivered and sent.attempts == 2
    (recorded,) = project.store.deliveries()
    assert (recorded.status, recorded.attempts) == ("failed", 2)
    assert recorded.error is not None and recorded.error.startswith("connection failed")


def test_status_and_why_show_overdue(
    make_project: ProjectFactory, clean_imports: None, server: AlertServer
) -> None:
    from assetflow.cli.render_history import render_status_counts
    from assetflow.planner.explain import render_why

    project = load(make_project, server, UNPARTITIONED)
    project.materialize("orders")
    now, later = utcnow(), utcnow() + timedelta(hours=2)
    assert [r["overdue"] for r in project.status_counts(now=now)] == [False]
    (record,) = project.status_counts(now=later)
    assert record["overdue"] and record["counts"]["stale"] == 1
    table = render_status_counts([record]).splitlines()
    assert table[0].split()[-1] == "FRESHNESS" and table[1].split()[-1] == "overdue"
    why = render_why(project.why("orders", now=later))
    assert why.startswith("orders is stale: not materialized since ")
    assert why.endswith("(max lag 1:00:00)")
