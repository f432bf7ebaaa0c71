-- Clean events of the days [:first_day, :last_day]: the valid staged lines, one row per event_id.
-- Firehose delivers at least once, so the same event can arrive twice: the earliest arrival wins. Only the ids
-- that came more than once are ranked; (a line cannot be named by object and line number: Athena does not number
-- lines, so the copies of an id are ranked rather than looked up).
-- Rows come in the order the lines arrived (sealed hour, object, line), the ids that came more than once last, in
-- the order their first copy arrived. The day is not sorted: sorting all its columns cost more than the rest of
-- the query, and a join would let the engine return the rows in any order (DuckDB does). So the ids that came once
-- are found by looking each line's id up in a short list, one list per first three hex digits of the id (every
-- valid event_id is lower-case hex; the three digits give the list's place, 1 to 4096).
WITH repeated AS (
    SELECT route_dt, event_id
    FROM staged_events
    WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY route_dt, event_id
    HAVING count(*) > 1
),
repeated_by_prefix AS (
    SELECT array_agg(coalesce(r.ids, ARRAY[]) ORDER BY p.prefix) AS ids
    FROM UNNEST(sequence(1, 4096)) AS p (prefix)
    LEFT JOIN (
        SELECT
            (strpos('0123456789abcdef', substr(event_id, 1, 1)) - 1) * 256
                + (strpos('0123456789abcdef', substr(event_id, 2, 1)) - 1) * 16
                + strpos('0123456789abcdef', substr(event_id, 3, 1)) AS prefix,
            array_agg(event_id) AS ids
        FROM repeated
        GROUP BY 1
    ) AS r ON r.prefix = p.prefix
),
kept AS (
    SELECT *, 1 AS copy_number
    FROM staged_events
    WHERE reason IS NULL AND route_dt BETWEEN date(:first_day) AND date(:last_day)
        AND NOT contains(
            element_at(
                (SELECT ids FROM repeated_by_prefix),
                (strpos('0123456789abcdef', substr(event_id, 1, 1)) - 1) * 256
                    + (strpos('0123456789abcdef', substr(event_id, 2, 1)) - 1) * 16
                    + strpos('0123456789abcdef', substr(event_id, 3, 1))
            ),
            event_id
        )
    UNION ALL
    SELECT *
    FROM (
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
        ORDER BY arrival_ts, source_object, line_number, event_id
    ) AS first_copies
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
