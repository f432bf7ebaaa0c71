-- Clean events of the days [:first_day, :last_day]: the valid staged lines, one row per event_id.
-- Firehose delivers at least once, so the same event can arrive twice: the earliest arrival wins. Only the ids
-- that came more than once are ranked (a line is known by its object and line number): ranking every line cost
-- a second sort of the whole day, more than the rest of the query.
WITH later_copies AS (
    SELECT source_object, line_number
    FROM (
        SELECT
            source_object,
            line_number,
            row_number() OVER (
                PARTITION BY route_dt, event_id ORDER BY arrival_ts, source_object, line_number
            ) AS copy_number
        FROM staged_events
        JOIN (
            SELECT route_dt, event_id
            FROM staged_events
            WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
            GROUP BY route_dt, event_id
            HAVING count(*) > 1
        ) AS repeated USING (route_dt, event_id)
        WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
    ) AS ranked
    WHERE copy_number > 1
)
SELECT
    event_id,
    schema_version,
    event_ts,
    event_type,
    page,
    product_id,
    user_id,
    session_id,
    device_type,
    browser,
    location,
    referrer_url,
    user_type,
    arrival_ts,
    source_object,
    order_id,
    price,
    quantity,
    currency,
    route_dt AS dt
FROM staged_events AS e
WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
    AND NOT EXISTS (
        SELECT 1 FROM later_copies AS l WHERE l.source_object = e.source_object AND l.line_number = e.line_number
    )
ORDER BY dt, event_ts, event_id
