-- The lifecycle states partition the users seen so far: each week's users over all states equal the users first
-- seen in or before that week, and only the four states appear.
WITH firsts AS (
    SELECT user_id, min(date_trunc('week', dt)) AS first_week
    FROM sessions
    GROUP BY user_id
),
stated AS (
    SELECT week, sum(users) AS users, count_if(state NOT IN ('new', 'returning', 'resurrecting', 'dormant')) AS odd
    FROM lifecycle_weekly
    GROUP BY week
),
seen AS (
    SELECT s.week, count(f.user_id) AS users
    FROM stated AS s
    LEFT JOIN firsts AS f ON CAST(f.first_week AS DATE) <= s.week
    GROUP BY s.week
)
SELECT
    count_if(st.users <> se.users OR st.odd > 0) AS violations,
    count(*) AS weeks,
    coalesce(max(se.users), 0) AS users_seen
FROM stated AS st
JOIN seen AS se ON se.week = st.week
