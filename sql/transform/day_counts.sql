-- What each day took from the sealed hours, counted independently of what was written:
-- taken = valid + quarantined; duplicates = valid - distinct event_ids; late = arrived after the day closed
-- (end of day + :late_arrival_hours).
SELECT
    route_dt AS dt,
    count(*) AS taken,
    count_if(reason IS NULL) AS valid,
    count(DISTINCT event_id) AS distinct_valid,
    count_if(reason IS NOT NULL) AS quarantined,
    count_if(arrival_ts >= date_add('hour', 24 + CAST(:late_arrival_hours AS INTEGER), CAST(route_dt AS TIMESTAMP))) AS late
FROM staged_events
WHERE route_dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY route_dt
ORDER BY dt
