"""The selection language: operators, methods, union/intersection, exclusion, errors."""

from __future__ import annotations

import pytest

from assetflow import SelectionError
from assetflow.definitions.assets import AssetDef, AssetDep
from assetflow.graph.asset_graph import AssetGraph
from assetflow.graph.selection import parse_atom, select


def a(name: str, *deps: str, **kw) -> AssetDef:
    return AssetDef(name=name, deps=tuple(AssetDep(d) for d in deps), **kw)


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    #  raw_orders -> orders -> orders_cleaned -> monthly_revenue -> revenue_dashboard
    #  customers -----------------------------------------------------^
    return AssetGraph(
        [
            a("raw_orders", group="sales", tags={"domain": "sales", "pii": "yes"}),
            a("orders", "raw_orders", group="sales", tags={"domain": "sales"}),
            a("orders_cleaned", "orders", group="sales", tags={"domain": "sales"}),
            a("monthly_revenue", "orders_cleaned", group="finance", tags={"domain": "finance"}),
            a("customers", group="crm", tags={"pii": "yes"}),
            a("revenue_dashboard", "monthly_revenue", "customers", group="finance"),
        ]
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("orders", {"orders"}),
        ("orders customers", {"orders", "customers"}),
        (["orders", "customers"], {"orders", "customers"}),
        ("+orders_cleaned", {"orders_cleaned", "orders", "raw_orders"}),
        ("orders+", {"orders", "orders_cleaned", "monthly_revenue", "revenue_dashboard"}),
        ("1+orders_cleaned", {"orders_cleaned", "orders"}),
        ("orders+1", {"orders", "orders_cleaned"}),
        (
            "2+revenue_dashboard",
            {"revenue_dashboard", "monthly_revenue", "customers", "orders_cleaned"},
        ),
        (
            "+monthly_revenue+",
            {"raw_orders", "orders", "orders_cleaned", "monthly_revenue", "revenue_dashboard"},
        ),
        ("tag:domain=sales", {"raw_orders", "orders", "orders_cleaned"}),
        ("tag:pii", {"raw_orders", "customers"}),
        ("group:finance", {"monthly_revenue", "revenue_dashboard"}),
        ("orders*", {"orders", "orders_cleaned"}),
        ("tag:pii,group:sales", {"raw_orders"}),
        (
            "*",
            {
                "raw_orders",
                "orders",
                "orders_cleaned",
                "monthly_revenue",
                "customers",
                "revenue_dashboard",
            },
        ),
        (
            None,
            {
                "raw_orders",
                "orders",
                "orders_cleaned",
                "monthly_revenue",
                "customers",
                "revenue_dashboard",
            },
        ),
    ],
)
def test_selection(graph: AssetGraph, expression, expected: set[str]) -> None:
    assert set(select(graph, expression)) == expected


def test_result_is_in_topological_order(graph: AssetGraph) -> None:
    names = select(graph, "+revenue_dashboard")
    assert names.index("raw_orders") < names.index("orders") < names.index("revenue_dashboard")


def test_exclude(graph: AssetGraph) -> None:
    assert set(select(graph, "+monthly_revenue", exclude="+orders")) == {
        "orders_cleaned",
        "monthly_revenue",
    }
    assert select(graph, "*", exclude=["group:sales", "group:finance", "customers"]) == []


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("order", "unknown asset 'order' (did you mean: orders"),
        ("+custmers", "did you mean: customers"),
        ("group:financ", "did you mean: finance"),
        ("tag:nope", "no asset has the tag 'nope'"),
        ("zzz*", "matches no asset"),
        ("owner:me", "unknown selection method 'owner'"),
        ("a,,b", "cannot parse"),
        ("tag:", "needs a value"),
    ],
)
def test_errors_name_the_culprit(graph: AssetGraph, expression: str, fragment: str) -> None:
    with pytest.raises(SelectionError) as caught:
        select(graph, expression)
    assert fragment in str(caught.value)


def test_parse_atom() -> None:
    atom = parse_atom("2+tag:domain=sales+")
    assert (atom.method, atom.value, atom.upstream_depth, atom.downstream) == (
        "tag",
        "domain=sales",
        2,
        True,
    )


@pytest.mark.parametrize("expression", ["", "  ", ["orders", ""], [""]])
def test_an_empty_selection_given_is_an_error_not_everything(
    graph: AssetGraph, expression: str | list[str]
) -> None:
    """Nothing given (None) means every asset; a blank one given is a slip (an unset shell
    variable), and a costly one to read as "everything"."""
    with pytest.raises(SelectionError, match="empty selection"):
        select(graph, expression)
    with pytest.raises(SelectionError, match=r"empty selection .* for --exclude"):
        select(graph, "orders", exclude=expression)
