"""Assets of a small online shop, generated deterministically so the example needs no network.

The data is made in DuckDB from hashes of stable keys (customer id, day, order number), so every
run produces exactly the same rows: a few hundred orders a day from about 2,000 customers, with
weekly and seasonal patterns, a few cancelled orders and the odd zero-amount test order that
``orders_cleaned`` drops.
"""

from __future__ import annotations

from assetflow import (
    Context,
    DailyPartitions,
    MonthlyPartitions,
    RetryPolicy,
    TimeWindowMapping,
    asset,
)

# The shop's history: the whole of 2024. `end` is exclusive.
DAYS = DailyPartitions(start="2024-01-01", end="2025-01-01")
MONTHS = MonthlyPartitions(start="2024-01", end="2025-01")

CUSTOMER_COUNT = 2000
CATEGORIES = "['coffee', 'tea', 'mugs', 'grinders', 'gift cards']"


@asset(group="crm", tags={"domain": "crm"}, owners=["crm@example.com"])
def customers(context: Context, customer_export):
    """Every customer of the shop: id, name, email, country, segment and signup date.

    Read from the CRM's nightly export (the source ``customer_export``, a CSV file in
    examples/shop/landing/): edit that file and ``assetflow status`` shows this asset stale
    with ``source_changed``.
    """
    return context.warehouse.sql(
        """
        select customer_id::bigint as customer_id, name, email, country, segment,
               signed_up_on::date as signed_up_on
        from read_csv($path, header = true, all_varchar = true)
        """,
        params={"path": str(customer_export)},
    )


@asset(group="catalog", tags={"domain": "catalog"})
def products(context: Context):
    """The product catalogue: 40 products in 5 categories with list prices in EUR."""
    return context.warehouse.sql(
        f"""
        select
            id as product_id,
            {CATEGORIES}[1 + ((id - 1) // 8)::int] as category,
            {CATEGORIES}[1 + ((id - 1) // 8)::int] || ' #' || id as name,
            round(4.5 + (hash(id, 'price') % 9000) / 100.0, 2)::decimal(10, 2) as unit_price
        from range(1, 41) t(id)
        """
    )


@asset(
    partitions=DAYS,
    group="sales",
    tags={"domain": "sales"},
    owners=["data@example.com"],
    retries=RetryPolicy(max_retries=3, delay=1.0, backoff=2.0, jitter=0.2),
    timeout="10m",
    deps=["products"],
)
def orders(context: Context):
    """One day of orders as the shop's order system exported them.

    Weekends are busier, December is busiest; about 3% of orders are cancelled and a handful
    are zero-amount test orders.
    """
    context.log.info("generating orders for %s", context.partition_key)
    return context.warehouse.sql(
        f"""
        with day as (
            select $day::date as d
        ), volume as (
            select d,
                   (220 + hash(d, 'volume') % 120
                    + case when dayofweek(d) in (0, 6) then 90 else 0 end
                    + case when month(d) = 12 then 150 else 0 end)::bigint as n
            from day
        )
        select
            strftime(d, '%Y%m%d') || lpad(i::varchar, 4, '0') as order_id,
            d as order_date,
            d::timestamp + to_seconds((hash(d, i, 'time') % 86400)::bigint) as ordered_at,
            1 + hash(d, i, 'customer') % {CUSTOMER_COUNT} as customer_id,
            1 + hash(d, i, 'product') % 40 as product_id,
            (1 + hash(d, i, 'qty') % 3)::int as quantity,
            case when hash(d, i, 'test') % 250 = 0 then 0
                 else round(5 + (hash(d, i, 'amount') % 9500) / 100.0, 2)
            end::decimal(10, 2) as amount,
            case when hash(d, i, 'status') % 33 = 0 then 'cancelled'
                 when d >= date '2024-12-29' and hash(d, i, 'open') % 4 = 0 then 'open'
                 else 'paid'
            end as status
        from volume, range(n) t(i)
        """,
        params={"day": context.partition_key},
    )


@asset(partitions=DAYS, group="sales", tags={"domain": "sales"})
def orders_cleaned(orders, products):
    """Paid and open orders with a positive amount, enriched with the product category."""
    return (
        orders.filter("status <> 'cancelled' and amount > 0")
        .join(products.select("product_id, category"), "product_id")
        .select(
            "order_id, order_date, ordered_at, customer_id, product_id, category, "
            "quantity, amount, status"
        )
    )


@asset(partitions=MONTHS, group="finance", tags={"domain": "finance"})
def monthly_revenue(orders_cleaned):
    """Revenue, order count and distinct buying customers per month and category."""
    return orders_cleaned.aggregate(
        "strftime(order_date, '%Y-%m') as month, category, "
        "sum(amount) as revenue, count(*) as orders, count(distinct customer_id) as customers",
        "month, category",
    )


@asset(
    partitions=DAYS,
    group="finance",
    tags={"domain": "finance"},
    deps={"cumulative_revenue": TimeWindowMapping(start_offset=-1, end_offset=-1)},
)
def cumulative_revenue(daily_revenue, cumulative_revenue):
    """Revenue to date: the previous day's running total plus this day's revenue.

    It reads its own previous partition, so its days run strictly in order; on the first day
    there is no previous partition and ``cumulative_revenue`` is None.
    """
    if cumulative_revenue is None:
        return daily_revenue.select("order_date, revenue, revenue as revenue_to_date")
    previous = cumulative_revenue.select("revenue_to_date as previous_total")
    return daily_revenue.cross(previous).select(
        "order_date, revenue, previous_total + revenue as revenue_to_date"
    )


@asset(group="finance", tags={"domain": "finance"}, deps=["daily_revenue"])
def revenue_dashboard(context: Context, monthly_revenue, customers):
    """The finance team's dashboard: revenue per month with the share of active customers."""
    total_customers = customers.count("*").fetchall()[0][0]
    context.add_metadata({"customers": total_customers})
    return monthly_revenue.aggregate(
        "month, sum(revenue) as revenue, sum(orders) as orders, "
        f"sum(customers) as buying_customers, round(sum(customers) / {total_customers}, 3) "
        "as active_share",
        "month",
    ).order("month")
