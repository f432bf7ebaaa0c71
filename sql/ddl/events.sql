-- Clean events: valid against the contract, one row per event_id, by the event's UTC day.
CREATE EXTERNAL TABLE IF NOT EXISTS events (
    event_id STRING,
    schema_version INT,
    event_ts TIMESTAMP,
    event_type STRING,
    page STRING,
    product_id STRING,
    user_id STRING,
    session_id STRING,
    device_type STRING,
    browser STRING,
    location STRING,
    referrer_url STRING,
    user_type STRING,
    arrival_ts TIMESTAMP,
    source_object STRING,
    -- Contract version 2: a purchase line's order, unit price, quantity and ISO 4217 currency (null before).
    order_id STRING,
    price DECIMAL(18,4),
    quantity INT,
    currency STRING
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/events/'
-- ZSTD level 1, not the default 3: on this data it wrote 1M events in 0.51 s instead of 0.61 s and came out
-- smaller (38.8 MB vs 39.9 MB), since the dictionary pages do most of the work.
TBLPROPERTIES ('parquet.compression' = 'ZSTD', 'compression_level' = '1')
