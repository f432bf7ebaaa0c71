-- Engagement per day and device (device_type 'all' for the whole site: users on two devices count once).
-- Active users are users with a session starting that day; 7- and 30-day actives look back over sessions.
WITH daily AS (
    -- Each part reads the sessions itself: one shared relation of the 30 days' sessions was held in memory for all.
    SELECT
        dt,
        coalesce(device_type, 'all') AS device_type,
        count(DISTINCT user_id) AS active_users,
        count(DISTINCT CASE WHEN user_type = 'new' THEN user_id END) AS new_users,
        count(DISTINCT CASE WHEN user_type = 'returning' THEN user_id END) AS returning_users,
        count(*) AS sessions,
        avg(duration_seconds) AS avg_session_seconds,
        avg(page_views) AS pages_per_session,
        avg(CASE WHEN bounced THEN 1.0 ELSE 0.0 END) AS bounce_rate,
        avg(CASE WHEN engaged THEN 1.0 ELSE 0.0 END) AS engagement_rate
    FROM sessions
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY GROUPING SETS ((dt, device_type), (dt))
),
days AS (
    SELECT DISTINCT dt FROM daily
),
user_days AS (
    -- Each user once per day and device: the trailing figures count distinct users, and a day's 1M sessions come
    -- from ~360k of them.
    SELECT DISTINCT dt, device_type, user_id
    FROM sessions
    WHERE dt BETWEEN date_add('day', -29, date(:first_day)) AND date(:last_day)
),
trailing AS (
    SELECT
        d.dt,
        coalesce(s.device_type, 'all') AS device_type,
        count(DISTINCT CASE WHEN s.dt > date_add('day', -7, d.dt) THEN s.user_id END) AS active_users_7d,
        count(DISTINCT s.user_id) AS active_users_30d
    FROM days AS d
    JOIN user_days AS s ON s.dt BETWEEN date_add('day', -29, d.dt) AND d.dt
    GROUP BY GROUPING SETS ((d.dt, s.device_type), (d.dt))
)
SELECT
    a.device_type,
    a.active_users,
    a.new_users,
    a.returning_users,
    a.sessions,
    a.avg_session_seconds,
    a.pages_per_session,
    a.bounce_rate,
    a.engagement_rate,
    t.active_users_7d,
    t.active_users_30d,
    a.dt
FROM daily AS a
JOIN trailing AS t ON a.dt = t.dt AND a.device_type = t.device_type
ORDER BY a.dt, a.device_type
