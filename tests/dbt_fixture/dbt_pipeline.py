"""The Python side of the dbt test project: one asset upstream of a dbt source, one downstream
of a dbt model."""

from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]

from assetflow import asset


@asset
def raw_orders():  # type: ignore[no-untyped-def]
    """Orders as they land: read by the dbt source assetflow.raw_orders."""
    rows = [
        line.split(",") for line in (Path(__file__).parent / "orders.csv").read_text().split()[1:]
    ]
    return pa.table(
        {
            "order_id": pa.array([int(r[0]) if r[0] else None for r in rows], pa.int64()),
            "customer_id": pa.array([int(r[1]) for r in rows], pa.int64()),
            "order_date": pa.array([r[2] for r in rows], pa.string()),
            "amount": pa.array([float(r[3]) for r in rows], pa.float64()),
        }
    )


@asset
def order_report(daily_orders):  # type: ignore[no-untyped-def]
    """Downstream of the dbt model daily_orders."""
    return daily_orders.aggregate("sum(orders) AS orders, sum(revenue) AS revenue")
