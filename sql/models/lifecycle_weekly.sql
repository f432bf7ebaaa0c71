-- Every user seen so far, in each week with sessions (weeks start on Monday), in exactly one lifecycle state:
-- new (first seen that week), returning (active that week and the week before), resurrecting (active that week,
-- not the week before, seen earlier) or dormant (seen earlier, not active that week). Rebuilt whole from every
-- session.
WITH activity AS (
    SELECT user_id, date_trunc('week', dt) AS active_week
    FROM sessions
    GROUP BY user_id, date_trunc('week', dt)
),
firsts AS (
    SELECT user_id, min(active_week) AS first_week
    FROM activity
    GROUP BY user_id
),
weeks AS (
    SELECT DISTINCT active_week AS week
    FROM activity
),
states AS (
    SELECT
        w.week,
        CASE
            WHEN f.first_week = w.week THEN 'new'
            WHEN now_active.user_id IS NOT NULL AND before.user_id IS NOT NULL THEN 'returning'
            WHEN now_active.user_id IS NOT NULL THEN 'resurrecting'
            ELSE 'dormant'
        END AS state
    FROM weeks AS w
    JOIN firsts AS f ON f.first_week <= w.week
    LEFT JOIN activity AS now_active ON now_active.user_id = f.user_id AND now_active.active_week = w.week
    LEFT JOIN activity AS before
        ON before.user_id = f.user_id AND before.active_week = date_add('week', -1, w.week)
)
SELECT CAST(week AS DATE) AS week, state, count(*) AS users
FROM states
GROUP BY week, state
ORDER BY week, state
