"""`@asset`: bare and with arguments, dependencies, inert metadata, validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assetflow import (
    AssetDef,
    Context,
    DailyPartitions,
    DefinitionError,
    FreshnessPolicy,
    RetryPolicy,
    TimeWindowMapping,
    asset,
)
from assetflow.definitions.assets import asset_def_of


def test_bare_decorator_keeps_the_function_callable() -> None:
    @asset
    def customers():
        """All customers."""
        return [1, 2, 3]

    assert customers() == [1, 2, 3]
    definition = asset_def_of(customers)
    assert isinstance(definition, AssetDef)
    assert definition.name == "customers"
    assert definition.deps == ()
    assert definition.description == "All customers."
    assert definition.io == "duckdb"
    assert not definition.is_partitioned
    assert definition.code_version


def test_every_argument_of_the_spec_is_recorded() -> None:
    days = DailyPartitions(start="2024-01-01", timezone="UTC")

    @asset(
        partitions=days,
        deps={"running_total": TimeWindowMapping(start_offset=-1, end_offset=-1)},
        code_version="v7",
        retries=RetryPolicy(max_retries=3, delay=1.0, backoff=2.0, jitter=0.2),
        timeout="10m",
        pool="api",
        tags={"domain": "sales"},
        group="sales",
        owners=["data@example.com"],
        description="Running total of revenue.",
        io="parquet",
        schedule="0 3 * * *",
        freshness={"max_lag": "26h"},
        automation="eager",
        checks=["not_null(day)"],
    )
    def running_total(context: Context, orders_cleaned, running_total):
        return None

    d = asset_def_of(running_total)
    assert d is not None
    assert d.partitions == days
    assert [(dep.name, dep.passed) for dep in d.deps] == [
        ("orders_cleaned", True),
        ("running_total", True),
    ]
    assert d.dep("running_total").mapping == TimeWindowMapping(-1, -1)  # type: ignore[union-attr]
    assert d.dep("orders_cleaned").mapping is None  # type: ignore[union-attr]
    assert d.code_version == "v7" and d.code_version_explicit
    assert d.retries.max_retries == 3 and d.retries.delay_before(3) == 4.0
    assert d.timeout == timedelta(minutes=10)
    assert (d.pool, d.group, d.io, d.schedule, d.automation) == (
        "api",
        "sales",
        "parquet",
        "0 3 * * *",
        "eager",
    )
    assert d.tags == {"domain": "sales"} and d.owners == ("data@example.com",)
    assert d.freshness == FreshnessPolicy(timedelta(hours=26))
    assert d.description == "Running total of revenue."
    assert d.checks == ("not_null(day)",)


def test_deps_names_are_not_passed_and_context_is_not_a_dependency() -> None:
    @asset(deps=["customers"])
    def revenue_dashboard(context, monthly_revenue):
        return None

    d = asset_def_of(revenue_dashboard)
    assert d is not None
    assert [(dep.name, dep.passed) for dep in d.deps] == [
        ("monthly_revenue", True),
        ("customers", False),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"io": "csv"}, "io must be one of"),
        ({"automation": "lazy"}, "automation"),
        ({"timeout": "soon"}, "timeout"),
        ({"freshness": {"lag": "1h"}}, "freshness"),
        ({"partitions": "daily"}, "partitions must be"),
        ({"deps": "orders"}, "deps=['orders']"),
        ({"retries": 3}, "RetryPolicy"),
        ({"name": "2fast"}, "not a valid asset name"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:

        @asset(**kwargs)
        def thing():
            return None

    assert message in str(caught.value)


def test_unknown_argument_and_var_args_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="unknown argument"):
        asset(partition=None)  # type: ignore[call-overload]
    with pytest.raises(DefinitionError, match=r"\*args"):

        @asset
        def spread(*upstreams):
            return None


def test_retry_policy_validates() -> None:
    with pytest.raises(DefinitionError, match="backoff"):
        RetryPolicy(backoff=0.5)
    with pytest.raises(DefinitionError, match="jitter"):
        RetryPolicy(jitter=2)
