-- The retention matrix: cohort week by weeks since first seen.
SELECT cohort_week, week_offset, cohort_users, retained_users, retention_rate
FROM retention_weekly
ORDER BY cohort_week, week_offset
