"""AssetGraph: validation errors naming their culprits, traversal, partition-level expansion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow import (
    AllPartitionsMapping,
    DailyPartitions,
    DefinitionError,
    GraphError,
    MonthlyPartitions,
    StaticPartitions,
    TimeWindowMapping,
)
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.definitions.checks import CheckDef
from assetflow.graph.asset_graph import AssetGraph

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
DAYS = DailyPartitions(start="2024-01-01")
MONTHS = MonthlyPartitions(start="2024-01")


def a(name: str, *deps: str | AssetDep, partitions=None, **kw) -> AssetDef:
    resolved = tuple(d if isinstance(d, AssetDep) else AssetDep(d) for d in deps)
    extra = {"partitions": partitions} if partitions is not None else {}
    return AssetDef(name=name, deps=resolved, source=f"test.{name}", **extra, **kw)


def shop() -> AssetGraph:
    return AssetGraph(
        [
            a("revenue_dashboard", "monthly_revenue", "customers"),
            a("customers"),
            a("orders", partitions=DAYS),
            a("orders_cleaned", "orders", partitions=DAYS),
            a("monthly_revenue", "orders_cleaned", partitions=MONTHS),
            a(
                "running_total",
                "orders_cleaned",
                AssetDep("running_total", TimeWindowMapping(-1, -1)),
                partitions=DAYS,
            ),
        ]
    )


def test_topological_order_puts_upstream_first() -> None:
    order = shop().topological_order()
    assert order.index("orders") < order.index("orders_cleaned") < order.index("monthly_revenue")
    assert order.index("monthly_revenue") < order.index("revenue_dashboard")
    assert order.index("customers") < order.index("revenue_dashboard")


def test_ancestors_descendants_with_depth() -> None:
    g = shop()
    assert g.ancestors("revenue_dashboard") == {
        "monthly_revenue",
        "orders_cleaned",
        "orders",
        "customers",
    }
    assert g.ancestors("revenue_dashboard", depth=1) == {"monthly_revenue", "customers"}
    assert g.descendants("orders") == {
        "orders_cleaned",
        "monthly_revenue",
        "revenue_dashboard",
        "running_total",
    }
    assert g.descendants("orders", depth=1) == {"orders_cleaned"}
    assert "running_total" not in g.descendants("running_total")


def test_partition_level_expansion_both_ways() -> None:
    g = shop()
    ups = g.upstream_partitions("monthly_revenue", "2024-02", NOW)
    assert ups["orders_cleaned"][0] == "2024-02-01" and len(ups["orders_cleaned"]) == 29
    assert g.upstream_partitions("revenue_dashboard", "-", NOW)["monthly_revenue"] == [
        "2024-01",
        "2024-02",
    ]
    assert g.upstream_partitions("orders_cleaned", "2024-01-05", NOW) == {"orders": ["2024-01-05"]}
    assert g.upstream_partitions("running_total", "2024-01-05", NOW)["running_total"] == [
        "2024-01-04"
    ]
    assert g.upstream_partitions("running_total", "2024-01-01", NOW)["running_total"] == []
    downs = g.downstream_partitions("orders_cleaned", "2024-01-31", NOW)
    assert downs["monthly_revenue"] == ["2024-01"]
    assert downs["running_total"] == ["2024-01-31"]
    assert g.downstream_partitions("running_total", "2024-01-31", NOW)["running_total"] == [
        "2024-02-01"
    ]
    bulk = g.upstream_partitions_bulk("orders_cleaned", ["2024-01-01", "2024-01-02"], NOW)
    assert bulk == {"orders": [["2024-01-01"], ["2024-01-02"]]}


def test_unknown_upstream_suggests_close_names() -> None:
    with pytest.raises(GraphError, match=r"'orders_cleaned'.*unknown asset 'order'.*orders"):
        AssetGraph([a("orders"), a("orders_cleaned", "order")])


def test_duplicate_names_name_both_sources() -> None:
    with pytest.raises(GraphError, match=r"two assets are named 'orders'.*test\.orders"):
        AssetGraph([a("orders"), a("orders")])


def test_cycle_names_every_asset_on_it() -> None:
    with pytest.raises(GraphError, match="dependency cycle") as caught:
        AssetGraph([a("x", "z"), a("y", "x"), a("z", "y"), a("free")])
    message = str(caught.value)
    assert all(name in message for name in ("x", "y", "z"))
    assert "free" not in message


def test_self_dependency_needs_a_negative_offset() -> None:
    with pytest.raises(DefinitionError, match="running_total"):
        AssetGraph([a("running_total", "running_total", partitions=DAYS)])
    with pytest.raises(DefinitionError, match="running_total"):
        AssetGraph(
            [
                a(
                    "running_total",
                    AssetDep("running_total", TimeWindowMapping(0, 0)),
                    partitions=DAYS,
                )
            ]
        )


def test_no_default_mapping_between_unrelated_definitions_names_the_edge() -> None:
    regions = StaticPartitions(["eu", "us"])
    with pytest.raises(DefinitionError, match=r"asset 'by_region' \(upstream 'orders'\)"):
        AssetGraph([a("orders", partitions=DAYS), a("by_region", "orders", partitions=regions)])
    # An explicit mapping makes it valid.
    graph = AssetGraph(
        [
            a("orders", partitions=DAYS),
            a("by_region", AssetDep("orders", AllPartitionsMapping()), partitions=regions),
        ]
    )
    assert len(graph.upstream_partitions("by_region", "eu", NOW)["orders"]) == 60


def test_check_on_unknown_asset() -> None:
    with pytest.raises(GraphError, match=r"check 'ids' is on unknown asset 'order'"):
        AssetGraph([a("orders")], [CheckDef(name="ids", asset="order")])


def test_expansion_scales_to_a_thousand_assets_by_a_thousand_partitions() -> None:
    """1,000 daily assets in a chain, 1,000 partitions each: the whole expansion in one pass.

    Not a timing test (those live in benchmarks/); it proves the bulk path handles the size.
    """
    days = DailyPartitions(start="2021-01-01", end="2023-09-28")
    assets = [a("asset_0", partitions=days)] + [
        a(f"asset_{i}", f"asset_{i - 1}", partitions=days) for i in range(1, 1000)
    ]
    graph = AssetGraph(assets)
    keys = days.keys(NOW)
    assert len(keys) == 1000
    total = 0
    for name in graph.topological_order()[1:]:
        for lists in graph.upstream_partitions_bulk(name, keys, NOW).values():
            total += sum(len(x) for x in lists)
    assert total == 999 * 1000
