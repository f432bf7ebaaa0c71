-- Raw events as Firehose delivered them: JSON lines, one object per Firehose buffer, by arrival hour.
-- For ad-hoc questions about what arrived; the pipeline itself classifies every line (transform/stage_raw.sql),
-- so the SerDe skips malformed lines here instead of failing the query.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_events (
    event_id STRING,
    schema_version INT,
    `timestamp` STRING,
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
    order_id STRING,
    price DOUBLE,
    quantity INT,
    currency STRING
)
PARTITIONED BY (arrival_hour STRING)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
STORED AS TEXTFILE
LOCATION '{raw_events}'
