-- Retention rates lie in [0, 1], offsets are never negative, and week 0 holds the whole cohort.
SELECT
    count_if(retention_rate NOT BETWEEN 0 AND 1 OR week_offset < 0 OR retained_users > cohort_users
        OR (week_offset = 0 AND retained_users <> cohort_users)) AS violations,
    count(DISTINCT cohort_week) AS cohorts
FROM retention_weekly
