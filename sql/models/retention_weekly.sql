-- Weekly retention by first-seen cohort: users first seen in a week (weeks start on Monday), and how many of them
-- were active again 0, 1, 2 … weeks later. Rebuilt whole from every session.
WITH activity AS (
    SELECT user_id, date_trunc('week', dt) AS active_week
    FROM sessions
    GROUP BY user_id, date_trunc('week', dt)
),
cohorts AS (
    SELECT user_id, min(active_week) AS cohort_week
    FROM activity
    GROUP BY user_id
),
sizes AS (
    SELECT cohort_week, count(*) AS cohort_users
    FROM cohorts
    GROUP BY cohort_week
)
SELECT
    CAST(c.cohort_week AS DATE) AS cohort_week,
    date_diff('week', c.cohort_week, a.active_week) AS week_offset,
    s.cohort_users,
    count(*) AS retained_users,
    CAST(count(*) AS DOUBLE) / s.cohort_users AS retention_rate
FROM cohorts AS c
JOIN activity AS a ON a.user_id = c.user_id
JOIN sizes AS s ON s.cohort_week = c.cohort_week
GROUP BY c.cohort_week, date_diff('week', c.cohort_week, a.active_week), s.cohort_users
ORDER BY cohort_week, week_offset
