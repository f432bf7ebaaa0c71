-- Site-wide engagement per day.
SELECT
    dt,
    active_users,
    new_users,
    returning_users,
    active_users_7d,
    sessions,
    bounce_rate,
    engagement_rate,
    avg_session_seconds,
    pages_per_session
FROM user_engagement_daily
WHERE device_type = 'all'
ORDER BY dt
