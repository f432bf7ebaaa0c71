-- Sessions, purchases and conversion per day.
SELECT
    dt,
    sum(sessions) AS sessions,
    sum(purchase) AS purchases,
    CAST(sum(purchase) AS DOUBLE) / nullif(sum(sessions), 0) AS conversion_rate
FROM funnel_daily
GROUP BY dt
ORDER BY dt
