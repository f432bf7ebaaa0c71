-- What each sealed arrival hour holds, by the day each record goes to and by reason (NULL when valid).
SELECT
    arrival_hour,
    route_dt,
    reason,
    count(*) AS records
FROM staged_events
GROUP BY arrival_hour, route_dt, reason
ORDER BY arrival_hour, route_dt, reason
