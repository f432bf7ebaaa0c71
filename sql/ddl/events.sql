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
    source_object STRING
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/events/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
