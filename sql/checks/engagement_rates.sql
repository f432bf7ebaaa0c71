-- Rates lie in [0, 1]; new + returning users cover the active users; 7-day actives include the day's.
SELECT
    count_if(NOT (bounce_rate BETWEEN 0 AND 1 AND engagement_rate BETWEEN 0 AND 1)
        OR new_users + returning_users < active_users
        OR active_users_7d < active_users OR active_users_30d < active_users_7d) AS violations,
    coalesce(max(active_users), 0) AS max_active_users
FROM user_engagement_daily
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
