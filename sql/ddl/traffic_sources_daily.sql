-- Sessions, users, purchases and conversion per day, channel and referring site.
CREATE EXTERNAL TABLE IF NOT EXISTS traffic_sources_daily (
    channel STRING,
    referrer_host STRING,
    sessions BIGINT,
    users BIGINT,
    purchases BIGINT,
    conversion_rate DOUBLE
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/traffic_sources_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
