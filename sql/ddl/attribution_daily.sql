-- Orders (conversions) and revenue per day and channel under each attribution model: first_touch and
-- last_non_direct over the user's sessions in the lookback window.
CREATE EXTERNAL TABLE IF NOT EXISTS attribution_daily (
    channel STRING,
    model STRING,
    conversions BIGINT,
    revenue DECIMAL(38,4)
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/attribution_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
