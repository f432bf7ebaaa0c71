-- Orders per day, device, channel and currency: orders, revenue, items, average order value, revenue per session.
CREATE EXTERNAL TABLE IF NOT EXISTS orders_daily (
    device_type STRING,
    channel STRING,
    currency STRING,
    orders BIGINT,
    revenue DECIMAL(38,4),
    items BIGINT,
    average_order_value DOUBLE,
    revenue_per_session DOUBLE
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/orders_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
