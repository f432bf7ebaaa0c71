-- Clean events of the days [:first_day, :last_day]: the valid staged lines, one row per event_id.
-- Firehose delivers at least once, so the same event can arrive twice: the earliest arrival wins. Only the ids
-- that came more than once are ranked: ranking every line cost a second sort of the whole day, more than the rest
-- of the query. (A line cannot be named by object and line number: Athena does not number lines.)
WITH repeated AS (
    SELECT route_dt, event_id
    FROM staged_events
    WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY route_dt, event_id
    HAVING count(*) > 1
),
kept AS (
    SELECT *, 1 AS copy_number
    FROM staged_events AS s
    WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
        AND NOT EXISTS (SELECT 1 FROM repeated AS r WHERE r.route_dt = s.route_dt AND r.event_id = s.event_id)
    UNION ALL
    SELECT *
    FROM (
        SELECT
            s.*,
            row_number() OVER (
                PARTITION BY s.route_dt, s.event_id ORDER BY s.arrival_ts, s.source_object, s.line_number
            ) AS copy_number
        FROM staged_events AS s
        JOIN repeated AS r ON r.route_dt = s.route_dt AND r.event_id = s.event_id
        WHERE s.reason IS NULL
    ) AS ranked
    WHERE copy_number = 1
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
FROM kept
ORDER BY dt, event_ts, event_id
