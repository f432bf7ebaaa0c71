-- Per product and day: views, clicks, adds to cart, purchases, unique users, the rates between them, and units
-- sold and revenue (in the order's currency: one per shop).
CREATE EXTERNAL TABLE IF NOT EXISTS product_performance_daily (
    product_id STRING,
    views BIGINT,
    clicks BIGINT,
    add_to_carts BIGINT,
    purchases BIGINT,
    unique_users BIGINT,
    view_to_cart_rate DOUBLE,
    cart_to_purchase_rate DOUBLE,
    units BIGINT,
    revenue DECIMAL(38,4)
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/product_performance_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
