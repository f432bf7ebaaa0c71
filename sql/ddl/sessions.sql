-- One row per session, on the UTC day of its first event: duration, pages, landing and exit page, channel,
-- bounce and engagement, and how far it went through the funnel.
CREATE EXTERNAL TABLE IF NOT EXISTS sessions (
    session_id STRING,
    user_id STRING,
    session_start TIMESTAMP,
    session_end TIMESTAMP,
    duration_seconds BIGINT,
    page_views BIGINT,
    events BIGINT,
    landing_page STRING,
    exit_page STRING,
    landing_page_class STRING,
    exit_page_class STRING,
    device_type STRING,
    browser STRING,
    location STRING,
    referrer_url STRING,
    referrer_host STRING,
    channel STRING,
    user_type STRING,
    bounced BOOLEAN,
    engaged BOOLEAN,
    added_to_cart BOOLEAN,
    reached_checkout BOOLEAN,
    purchased BOOLEAN,
    product_views BIGINT,
    add_to_carts BIGINT,
    purchases BIGINT,
    product_view_at TIMESTAMP,
    add_to_cart_at TIMESTAMP,
    checkout_at TIMESTAMP,
    purchase_at TIMESTAMP
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/sessions/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
