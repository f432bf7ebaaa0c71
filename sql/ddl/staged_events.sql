-- Every raw line of each sealed arrival hour, classified once: typed when valid, with a reason code when not.
-- Internal to the pipeline: processed/events and processed/quarantine read it by the hours each day needs.
CREATE EXTERNAL TABLE IF NOT EXISTS staged_events (
    source_object STRING,
    line_number BIGINT,
    arrival_ts TIMESTAMP,
    reason STRING,
    route_dt DATE,
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
    raw_line STRING,
    order_id STRING,
    price DECIMAL(18,4),
    quantity INT,
    currency STRING
)
PARTITIONED BY (arrival_hour STRING)
STORED AS PARQUET
LOCATION '{processed}/staged_events/'
-- Written once and read a few times by the day builds. ZSTD level 1 wrote faster than Snappy here (0.69 s vs
-- 0.76 s per 1M rows) and half the bytes (40 MB vs 71 MB).
TBLPROPERTIES ('parquet.compression' = 'ZSTD', 'compression_level' = '1')
