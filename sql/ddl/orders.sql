-- One row per order, on the UTC day of its first purchase line: its lines, units and value, currency, and the
-- session, user, device and channel it was placed in.
CREATE EXTERNAL TABLE IF NOT EXISTS orders (
    order_key STRING,
    order_id STRING,
    ordered_at TIMESTAMP,
    session_id STRING,
    user_id STRING,
    device_type STRING,
    channel STRING,
    currency STRING,
    lines BIGINT,
    items BIGINT,
    revenue DECIMAL(38,4)
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/orders/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
