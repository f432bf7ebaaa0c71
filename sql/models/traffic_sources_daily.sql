-- Sessions, users and purchases per day, channel and referring site (channel rules: models/sessions.sql).
SELECT
    channel,
    coalesce(referrer_host, '(direct)') AS referrer_host,
    count(*) AS sessions,
    count(DISTINCT user_id) AS users,
    count_if(purchased) AS purchases,
    CAST(count_if(purchased) AS DOUBLE) / count(*) AS conversion_rate,
    dt
FROM sessions
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt, channel, coalesce(referrer_host, '(direct)')
ORDER BY dt, channel, referrer_host
