-- Weekly first-seen cohorts (weeks start on Monday) and the share active again each week after.
CREATE EXTERNAL TABLE IF NOT EXISTS retention_weekly (
    cohort_week DATE,
    week_offset BIGINT,
    cohort_users BIGINT,
    retained_users BIGINT,
    retention_rate DOUBLE
)
STORED AS PARQUET
LOCATION '{processed}/retention_weekly/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
