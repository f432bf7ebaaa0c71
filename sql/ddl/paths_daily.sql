-- Page-class transitions of the first 10 steps of each session (landing to exit), per day: a Sankey's links.
CREATE EXTERNAL TABLE IF NOT EXISTS paths_daily (
    step BIGINT,
    from_page_class STRING,
    to_page_class STRING,
    sessions BIGINT
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/paths_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
