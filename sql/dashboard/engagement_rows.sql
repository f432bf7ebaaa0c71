-- Engagement per day, device and channel from the sessions model: counts the dashboard divides after filtering
-- (bounce and engagement rate, pages per session, seconds per session), so every filter applies.
SELECT
    dt,
    device_type,
    channel,
    count(*) AS sessions,
    count_if(bounced) AS bounced,
    count_if(engaged) AS engaged,
    count_if(user_type = 'new') AS new_user_sessions,
    sum(page_views) AS page_views,
    sum(duration_seconds) AS duration_seconds
FROM sessions
GROUP BY dt, device_type, channel
ORDER BY dt, device_type, channel
