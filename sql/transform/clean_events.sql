-- Clean events of the days [:first_day, :last_day]: the valid staged lines, one row per event_id.
-- Firehose delivers at least once, so the same event can arrive twice: the earliest arrival wins.
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
FROM (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY route_dt, event_id ORDER BY arrival_ts, source_object, line_number
        ) AS copy_number
    FROM staged_events
    WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
)
WHERE copy_number = 1
ORDER BY dt, event_ts, event_id
