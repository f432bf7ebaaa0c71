-- Sessions, users and conversion per channel over every built day.
SELECT
    channel,
    sum(sessions) AS sessions,
    sum(users) AS users,
    sum(purchases) AS purchases,
    CAST(sum(purchases) AS DOUBLE) / nullif(sum(sessions), 0) AS conversion_rate
FROM traffic_sources_daily
GROUP BY channel
ORDER BY sessions DESC, channel
