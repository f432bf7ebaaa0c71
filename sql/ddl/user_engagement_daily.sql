-- Engagement per day and device ('all' for the whole site): active, new and returning users, sessions,
-- duration, pages, bounce and engagement rates, and 7- and 30-day active users.
CREATE EXTERNAL TABLE IF NOT EXISTS user_engagement_daily (
    device_type STRING,
    active_users BIGINT,
    new_users BIGINT,
    returning_users BIGINT,
    sessions BIGINT,
    avg_session_seconds DOUBLE,
    pages_per_session DOUBLE,
    bounce_rate DOUBLE,
    engagement_rate DOUBLE,
    active_users_7d BIGINT,
    active_users_30d BIGINT
)
PARTITIONED BY (dt DATE)
STORED AS PARQUET
LOCATION '{processed}/user_engagement_daily/'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
