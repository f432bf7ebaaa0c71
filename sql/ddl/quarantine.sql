-- Lines that failed the contract, never dropped: the reason code, the raw text and where it came from.
CREATE EXTERNAL TABLE IF NOT EXISTS quarantine (
    reason STRING,
    raw_line STRING,
    source_object STRING,
    line_number BIGINT,
    arrival_ts TIMESTAMP
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/quarantine/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
