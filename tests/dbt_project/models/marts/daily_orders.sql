{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_date',
    tags=['nightly'],
    meta={'assetflow': {'partitions': 'daily', 'start': '2024-01-01', 'end': '2024-01-04'}}
) }}
select order_date, count(*) as orders, sum(amount) as revenue
from {{ ref('stg_orders') }}
{% if var('partition_start', none) is not none %}
where order_date >= cast('{{ var("partition_start") }}' as date)
  and order_date < cast('{{ var("partition_end") }}' as date)
{% endif %}
group by order_date
