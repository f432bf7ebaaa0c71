-- Quarantined lines of the days [:first_day, :last_day]: never dropped, each with its reason and where it came from.
SELECT
    reason,
    raw_line,
    source_object,
    line_number,
    arrival_ts,
    route_dt AS dt
FROM staged_events
WHERE reason IS NOT NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
ORDER BY dt, source_object, line_number
