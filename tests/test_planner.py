"""Scenario tests of the pure planner: statuses, reasons, plans and `why` on hand-made histories.

The graph mirrors the SPEC example: orders (daily) -> orders_cleaned (daily) -> monthly_revenue
(monthly) -> revenue_dashboard (unpartitioned) <- customers (unpartitioned), plus running_total
(daily, reading orders_cleaned and its own previous day). History is simulated in memory by
``planner_sim.History``, which records lineage the way the runner does.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from planner_sim import History, Node, deterministic_data, keep_data, not_fresh

from assetflow import (
    AllPartitionsMapping,
    DailyPartitions,
    FreshnessPolicy,
    LastPartitionMapping,
    MonthlyPartitions,
    TimeWindowMapping,
)
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.planner.explain import render_why, why
from assetflow.planner.status import StatusEvaluator, node_name, short_version
from assetflow.records import PartitionStatus, ReasonKind

DAILY = DailyPartitions(start="2024-01-01", timezone="UTC")
MONTHLY = MonthlyPartitions(start="2024-01", timezone="UTC")
# January is over, February 1 is not: 31 daily partitions and monthly 2024-01.
NOW = datetime(2024, 2, 1, 6, tzinfo=UTC)
JANUARY = [f"2024-01-{day:02d}" for day in range(1, 32)]


def example_assets() -> list[AssetDef]:
    return [
        AssetDef("orders", partitions=DAILY, code_version="o1"),
        AssetDef("orders_cleaned", partitions=DAILY, deps=(AssetDep("orders"),), code_version="c1"),
        AssetDef(
            "monthly_revenue",
            partitions=MONTHLY,
            deps=(AssetDep("orders_cleaned"),),
            code_version="m1",
        ),
        AssetDef("customers", code_version="cu1"),
        AssetDef(
            "revenue_dashboard",
            deps=(AssetDep("monthly_revenue"), AssetDep("customers", passed=False)),
            code_version="d1",
        ),
    ]


def running_total() -> AssetDef:
    return AssetDef(
        "running_total",
        partitions=DAILY,
        deps=(
            AssetDep("orders_cleaned"),
            AssetDep("running_total", TimeWindowMapping(start_offset=-1, end_offset=-1)),
        ),
        code_version="r1",
    )


def example(*extra: AssetDef, now: datetime = NOW) -> History:
    return History(AssetGraph([*example_assets(), *extra]), now, data=deterministic_data)


def fresh_example(*extra: AssetDef, now: datetime = NOW) -> History:
    history = example(*extra, now=now)
    history.make_fresh(history.nodes())
    assert not not_fresh(history.statuses())
    return history


def stale_names(history: History) -> set[str]:
    return {node_name(node) for node in not_fresh(history.statuses())}


def steps(history: History, targets: list[Node], **options: bool) -> list[str]:
    return [step.name for step in history.plan(targets, **options).steps]


# -- the example graph: early cutoff, reasons, why ---------------------------------------------


def test_changed_day_stales_exactly_its_month_and_the_dashboard() -> None:
    history = fresh_example()
    day = ("orders_cleaned", "2024-01-03")
    old = history.data_version(*day)
    assert old is not None and len(old) > 8
    history.materialize(*day, data=lambda *_: "9b11c0ffee000000")

    assert stale_names(history) == {"monthly_revenue[2024-01]", "revenue_dashboard"}
    month = history.status("monthly_revenue", "2024-01")
    assert month.status is PartitionStatus.STALE
    (reason,) = month.reasons
    assert reason.kind is ReasonKind.UPSTREAM_CHANGED
    assert reason.upstream == day
    assert reason.detail == (
        f"upstream orders_cleaned[2024-01-03] changed (data version {old[:6]}… → 9b11c0…)"
    )
    dashboard = history.status("revenue_dashboard")
    assert dashboard.status is PartitionStatus.STALE
    assert [(r.kind, r.detail) for r in dashboard.reasons] == [
        (ReasonKind.UPSTREAM_STALE, "upstream monthly_revenue[2024-01] is stale")
    ]
    # The plan redoes exactly those two, month first; then nothing is left to do.
    targets = [("revenue_dashboard", "-")]
    assert steps(history, targets) == ["monthly_revenue[2024-01]", "revenue_dashboard"]
    history.make_fresh(targets)
    assert not not_fresh(history.statuses())
    assert history.plan(targets).is_empty


def test_same_data_version_makes_nothing_stale() -> None:
    history = fresh_example()
    history.rematerialize("orders_cleaned", "2024-01-03", same=True)
    history.rematerialize("orders", "2024-01-03", same=True)
    assert stale_names(history) == set()
    assert history.plan([("revenue_dashboard", "-")]).is_empty


def test_why_chain_names_the_changed_upstream_and_its_cause() -> None:
    history = fresh_example()
    day = ("orders_cleaned", "2024-01-03")
    old = history.data_version(*day)
    history.materialize(*day, data=lambda *_: "9b11c0ffee000000")
    links = why(history.evaluator(), "revenue_dashboard", "-")
    assert [link.node for link in links] == [
        ("revenue_dashboard", "-"),
        ("monthly_revenue", "2024-01"),
        day,
    ]
    assert [link.status for link in links] == [
        PartitionStatus.STALE,
        PartitionStatus.STALE,
        PartitionStatus.FRESH,
    ]
    assert links[-1].reasons == ()
    text = render_why(links)
    assert text.splitlines()[0] == (
        "revenue_dashboard is stale: upstream monthly_revenue[2024-01] is stale"
    )
    assert (
        f"  monthly_revenue[2024-01] is stale: upstream orders_cleaned[2024-01-03] changed "
        f"(data version {short_version(old)} → 9b11c0…)"
    ) in text
    assert "because orders_cleaned[2024-01-03] was rematerialized with different data" in text


def test_why_names_a_code_change_as_the_cause() -> None:
    history = fresh_example()
    history.change_code("orders_cleaned", "c2")
    assert stale_names(history) == {
        *(f"orders_cleaned[{day}]" for day in JANUARY),
        "monthly_revenue[2024-01]",
        "revenue_dashboard",
    }
    day = history.status("orders_cleaned", "2024-01-03")
    assert [r.detail for r in day.reasons] == ["code of orders_cleaned changed (c1 → c2)"]
    assert [r.kind for r in history.status("monthly_revenue", "2024-01").reasons] == (
        [ReasonKind.UPSTREAM_STALE] * 31
    )
    # New code, new data (deterministic_data hashes the code): the month reads a change.
    history.make_fresh([("orders_cleaned", key) for key in JANUARY])
    links = why(history.evaluator(), "monthly_revenue", "2024-01", history.successes)
    assert links[0].reasons[0].kind is ReasonKind.UPSTREAM_CHANGED
    assert links[0].cause == "because code of orders_cleaned changed (c1 → c2)"
    assert "because code of orders_cleaned changed (c1 → c2)" in render_why(links)


def test_code_change_with_identical_data_cuts_off() -> None:
    history = fresh_example()
    history.change_code("orders_cleaned", "c2")
    plan = history.plan([("orders_cleaned", key) for key in JANUARY])
    assert len(plan) == 31
    history.apply(plan, keep_data)
    assert stale_names(history) == set()


# -- plan order ---------------------------------------------------------------------------------


def test_daily_backfill_runs_oldest_first() -> None:
    history = example()
    plan = history.plan([("orders_cleaned", key) for key in JANUARY])
    names = [step.name for step in plan.steps]
    expected = [name for key in JANUARY for name in (f"orders[{key}]", f"orders_cleaned[{key}]")]
    assert names == expected
    cleaned = plan.steps[1]
    assert cleaned.depends_on == (("orders", "2024-01-01"),)
    assert [r.kind for r in cleaned.reasons] == [ReasonKind.MISSING]
    # The month waits for all 31 days, the dashboard for the month and customers.
    full = history.plan([("revenue_dashboard", "-")])
    order = [step.name for step in full.steps]
    assert len(order) == 31 * 2 + 3
    assert order.index("monthly_revenue[2024-01]") > order.index("orders_cleaned[2024-01-31]")
    assert order[-1] == "revenue_dashboard"
    last = full.steps[-1]
    assert set(last.depends_on) == {("monthly_revenue", "2024-01"), ("customers", "-")}


def test_self_dependent_asset_runs_each_day_after_the_previous_one() -> None:
    history = example(running_total())
    plan = history.plan([("running_total", key) for key in JANUARY])
    totals = [step for step in plan.steps if step.asset == "running_total"]
    assert [step.partition for step in totals] == JANUARY
    position = {step.node: i for i, step in enumerate(plan.steps)}
    assert ("running_total", "2024-01-01") not in totals[0].depends_on
    for previous, step in itertools.pairwise(totals):
        assert previous.node in step.depends_on
        assert position[previous.node] < position[step.node]
    history.apply(plan)
    assert history.plan([("running_total", key) for key in JANUARY]).is_empty
    # The first day read no previous day (before start); the others read exactly one.
    first = history.states[("running_total", "2024-01-01")].last_success
    assert first is not None
    assert [i.asset for i in first.inputs] == ["orders_cleaned"]


def test_self_dependency_propagates_a_change_to_every_later_day() -> None:
    history = fresh_example(running_total())
    history.rematerialize("running_total", "2024-01-05", same=False)
    stale = {node for node in not_fresh(history.statuses())}
    assert stale == {("running_total", key) for key in JANUARY[5:]}
    assert history.status("running_total", "2024-01-06").reasons[0].kind is (
        ReasonKind.UPSTREAM_CHANGED
    )
    assert [r.detail for r in history.status("running_total", "2024-01-07").reasons] == [
        "upstream running_total[2024-01-06] is stale"
    ]
    # Planning only the last day still redoes the chain it needs, in order (like make).
    assert steps(history, [("running_total", "2024-01-31")]) == [
        f"running_total[{key}]" for key in JANUARY[5:]
    ]
    assert steps(history, [("running_total", "2024-01-31")], only=True) == [
        "running_total[2024-01-31]"
    ]


def test_only_and_force() -> None:
    history = fresh_example()
    history.change_code("orders", "o2")
    targets = [("orders_cleaned", "2024-01-02")]
    assert steps(history, targets) == ["orders[2024-01-02]", "orders_cleaned[2024-01-02]"]
    assert steps(history, targets, only=True) == ["orders_cleaned[2024-01-02]"]
    history.make_fresh([("orders", key) for key in JANUARY], data=keep_data)
    assert history.plan(targets).is_empty
    forced = history.plan(targets, force=True)
    assert [step.name for step in forced.steps] == ["orders_cleaned[2024-01-02]"]
    assert forced.steps[0].status is PartitionStatus.FRESH
    assert [(r.kind, r.detail) for r in forced.steps[0].reasons] == [
        (ReasonKind.FORCED, "forced (--force)")
    ]


# -- failed, missing, running ---------------------------------------------------------------------


def test_failed_and_missing_partitions() -> None:
    history = fresh_example()
    history.fail("orders_cleaned", "2024-01-04", error="ValueError: bad row")
    failed = history.status("orders_cleaned", "2024-01-04")
    assert failed.status is PartitionStatus.FAILED
    assert failed.reasons[0].detail == "latest attempt failed: ValueError: bad row"
    assert failed.data_version == history.data_version("orders_cleaned", "2024-01-04")
    month = history.status("monthly_revenue", "2024-01")
    assert [r.detail for r in month.reasons] == ["upstream orders_cleaned[2024-01-04] is failed"]
    assert steps(history, [("monthly_revenue", "2024-01")]) == [
        "orders_cleaned[2024-01-04]",
        "monthly_revenue[2024-01]",
    ]
    history.rematerialize("orders_cleaned", "2024-01-04", same=True)
    assert stale_names(history) == set()

    empty = example()
    missing = empty.status("orders", "2024-01-01")
    assert missing.status is PartitionStatus.MISSING
    assert [(r.kind, r.detail) for r in missing.reasons] == [
        (ReasonKind.MISSING, "never materialized")
    ]
    empty.fail("customers")
    assert empty.status("customers").status is PartitionStatus.FAILED


def test_running_partition() -> None:
    history = fresh_example()
    node = ("orders", "2024-01-02")
    evaluator = StatusEvaluator(history.graph, history.states, history.now, {node: "run-1"})
    result = evaluator.status(*node)
    assert result.status is PartitionStatus.RUNNING
    assert result.reasons[0].detail == "running in run run-1"


# -- freshness policies ---------------------------------------------------------------------------


def test_overdue_unpartitioned_asset() -> None:
    customers = AssetDef(
        "customers", code_version="cu1", freshness=FreshnessPolicy(timedelta(hours=1))
    )
    history = example(now=NOW)
    history.redefine(customers)
    never = history.status("customers")
    assert never.status is PartitionStatus.MISSING
    assert [(r.kind, r.detail) for r in never.reasons] == [
        (ReasonKind.MISSING, "never materialized"),
        (ReasonKind.OVERDUE, "not materialized ever (max lag 1:00:00)"),
    ]
    history.make_fresh(history.nodes())
    history.advance(timedelta(minutes=59))
    assert stale_names(history) == set()
    history.advance(timedelta(minutes=2))
    assert stale_names(history) == {"customers", "revenue_dashboard"}
    (reason,) = history.status("customers").reasons
    assert reason.kind is ReasonKind.OVERDUE
    assert reason.detail == "not materialized since 2024-02-01 06:00 (max lag 1:00:00)"
    assert steps(history, [("revenue_dashboard", "-")]) == ["customers", "revenue_dashboard"]
    history.make_fresh([("revenue_dashboard", "-")])
    assert stale_names(history) == set()


def test_overdue_latest_due_partition() -> None:
    orders = AssetDef(
        "orders", partitions=DAILY, code_version="o1", freshness=FreshnessPolicy(timedelta(hours=2))
    )
    history = History(AssetGraph([orders]), datetime(2024, 1, 10, 1, tzinfo=UTC))
    # Latest due: 2024-01-09, its window ended at 01-10 00:00; the deadline is 02:00.
    latest = history.status("orders", "2024-01-09")
    assert [r.kind for r in latest.reasons] == [ReasonKind.MISSING]
    history.advance(timedelta(hours=1, minutes=1))
    latest = history.status("orders", "2024-01-09")
    assert latest.status is PartitionStatus.MISSING
    assert [(r.kind, r.detail) for r in latest.reasons] == [
        (ReasonKind.MISSING, "never materialized"),
        (ReasonKind.OVERDUE, "latest partition 2024-01-09 not materialized by 2024-01-10 02:00"),
    ]
    # Older partitions are missing but not overdue: only the latest due one counts.
    assert [r.kind for r in history.status("orders", "2024-01-08").reasons] == [ReasonKind.MISSING]
    history.materialize("orders", "2024-01-09")
    assert history.status("orders", "2024-01-09").status is PartitionStatus.FRESH


# -- partitions and dependencies that appear or go ----------------------------------------------


def test_upstream_added_when_a_new_day_becomes_due() -> None:
    assets = [
        AssetDef("orders", partitions=DAILY, code_version="o1"),
        AssetDef("summary", deps=(AssetDep("orders"),), code_version="s1"),  # default: all
        AssetDef(
            "daily_all",
            partitions=DAILY,
            deps=(AssetDep("orders", AllPartitionsMapping()),),
            code_version="a1",
        ),
        AssetDef("latest", deps=(AssetDep("orders", LastPartitionMapping()),), code_version="l1"),
    ]
    history = History(AssetGraph(assets), datetime(2024, 1, 5, 12, tzinfo=UTC))
    history.make_fresh(history.nodes())
    history.advance()  # 2024-01-05 is over now
    new = ("orders", "2024-01-05")
    assert history.status(*new).status is PartitionStatus.MISSING
    summary = history.status("summary")
    assert summary.status is PartitionStatus.STALE
    assert [(r.kind, r.detail, r.upstream) for r in summary.reasons] == [
        (ReasonKind.UPSTREAM_ADDED, "upstream orders[2024-01-05] is new", new)
    ]
    for key in ("2024-01-01", "2024-01-04"):
        reasons = history.status("daily_all", key).reasons
        assert [(r.kind, r.upstream) for r in reasons] == [(ReasonKind.UPSTREAM_ADDED, new)]
    # The new day of daily_all itself was never materialized.
    assert history.status("daily_all", "2024-01-05").status is PartitionStatus.MISSING
    latest = history.status("latest")
    assert {(r.kind, r.detail) for r in latest.reasons} == {
        (ReasonKind.UPSTREAM_ADDED, "upstream orders[2024-01-05] is new"),
        (ReasonKind.UPSTREAM_REMOVED, "upstream orders[2024-01-04] is no longer read"),
    }
    assert steps(history, [("summary", "-")]) == ["orders[2024-01-05]", "summary"]
    history.make_fresh(history.nodes())
    assert not not_fresh(history.statuses())


def test_upstream_removed_when_a_dependency_is_dropped() -> None:
    history = fresh_example()
    history.drop_dependency("revenue_dashboard", "customers")
    dashboard = history.status("revenue_dashboard")
    assert dashboard.status is PartitionStatus.STALE
    assert [(r.kind, r.detail, r.upstream) for r in dashboard.reasons] == [
        (ReasonKind.UPSTREAM_REMOVED, "upstream customers is no longer read", ("customers", "-"))
    ]
    assert stale_names(history) == {"revenue_dashboard"}
    assert steps(history, [("revenue_dashboard", "-")]) == ["revenue_dashboard"]
    history.make_fresh([("revenue_dashboard", "-")])
    assert stale_names(history) == set()


def test_upstream_added_when_a_dependency_is_added() -> None:
    history = fresh_example()
    dashboard = history.graph["revenue_dashboard"]
    history.redefine(dashboard.replace(deps=(*dashboard.deps, AssetDep("orders", passed=False))))
    reasons = history.status("revenue_dashboard").reasons
    assert {r.kind for r in reasons} == {ReasonKind.UPSTREAM_ADDED}
    assert {r.upstream for r in reasons} == {("orders", key) for key in JANUARY}


# -- bugs ---------------------------------------------------------------------------------------


def test_missing_upstream_is_not_fresh_below() -> None:
    history = example()
    day = "2024-01-02"
    history.make_fresh([("orders_cleaned", day)], only=True)  # orders[day] never materialized
    assert history.status("orders", day).status is PartitionStatus.MISSING
    cleaned = history.status("orders_cleaned", day)
    # SPEC 4: upstream_stale = "an upstream partition is itself not fresh"; missing is not fresh.
    assert cleaned.status is not PartitionStatus.FRESH
    assert any(r.upstream == ("orders", day) for r in cleaned.reasons)
    # And a plan for something below must build the missing upstream (like make).
    assert "orders[2024-01-02]" in steps(history, [("orders_cleaned", day)])


def test_why_reaches_the_root_cause_of_a_long_self_dependent_chain() -> None:
    history = fresh_example(running_total(), now=datetime(2024, 3, 1, 6, tzinfo=UTC))
    history.rematerialize("orders_cleaned", "2024-01-03", same=False)
    links = why(history.evaluator(), "running_total", "2024-02-29")
    last = links[-1]
    assert not any(r.kind is ReasonKind.UPSTREAM_STALE for r in last.reasons), (
        f"chain of {len(links)} links stops at {node_name(last.node)}"
    )
    assert ("orders_cleaned", "2024-01-03") in [link.node for link in links]


@pytest.mark.parametrize(
    ("day", "now", "overdue"),
    [
        # Spring forward: 03-09 ends 05:00 UTC; at 07:30 UTC only 2.5 h have passed.
        ("2024-03-09", datetime(2024, 3, 10, 7, 30, tzinfo=UTC), False),
        # Fall back: 11-02 ends 04:00 UTC; at 07:30 UTC 3.5 h have passed.
        ("2024-11-02", datetime(2024, 11, 3, 7, 30, tzinfo=UTC), True),
    ],
)
def test_overdue_lag_is_elapsed_time_across_dst(day: str, now: datetime, overdue: bool) -> None:
    daily = DailyPartitions(start="2024-01-01", timezone="America/New_York")
    orders = AssetDef(
        "orders", partitions=daily, code_version="o1", freshness=FreshnessPolicy(timedelta(hours=3))
    )
    history = History(AssetGraph([orders]), now)
    assert history.keys("orders")[-1] == day  # the latest due partition
    window_end = daily.time_window(day)[1]
    assert (now - window_end > timedelta(hours=3)) is overdue  # real elapsed time
    kinds = [r.kind for r in history.status("orders", day).reasons]
    assert (ReasonKind.OVERDUE in kinds) is overdue, history.status("orders", day).reasons
