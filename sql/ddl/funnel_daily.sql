-- The closed, ordered funnel per day, device and channel: session counts per step, conversion rates, and the
-- median, p50 and p90 seconds from session start to purchase.
CREATE EXTERNAL TABLE IF NOT EXISTS funnel_daily (
    device_type STRING,
    channel STRING,
    sessions BIGINT,
    product_view BIGINT,
    add_to_cart BIGINT,
    checkout BIGINT,
    purchase BIGINT,
    session_to_view_rate DOUBLE,
    view_to_cart_rate DOUBLE,
    cart_to_checkout_rate DOUBLE,
    checkout_to_purchase_rate DOUBLE,
    overall_conversion_rate DOUBLE,
    median_seconds_to_convert DOUBLE,
    cart_abandonment_rate DOUBLE,
    p50_seconds_to_convert BIGINT,
    p90_seconds_to_convert BIGINT
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/funnel_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
