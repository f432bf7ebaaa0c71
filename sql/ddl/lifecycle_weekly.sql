-- Users per week and lifecycle state (new, returning, resurrecting, dormant): the states partition the users seen
-- so far.
CREATE EXTERNAL TABLE IF NOT EXISTS lifecycle_weekly (
    week DATE,
    state STRING,
    users BIGINT
)
STORED AS PARQUET
LOCATION '{processed}/lifecycle_weekly/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
