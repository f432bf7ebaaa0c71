-- Classify every raw line of the arrival hours being sealed, exactly once.
-- Input: raw_lines(source_object, line_number, line, arrival_hour, arrival_ts): one row per line of each sealed
-- object; the arrival hour is the object's YYYY/MM/DD/HH folder, the arrival time the one in its name.
-- Output: one row per line, typed when valid, with its reason code when not (contract.py holds the same rules,
-- in the same order; a test keeps the two in step). route_dt is the day that will take the line: the event's
-- UTC date when valid, else the arrival date, so nothing waits for a day that will never be built.
-- Parameters: :calendar_start, the first day of the partition calendar (YYYY-MM-DD).
WITH parsed AS (
    SELECT
        source_object,
        line_number,
        line,
        arrival_hour,
        arrival_ts,
        -- One parse per line: every field kept as JSON so its type can still be checked.
        try_cast(try(json_parse(line)) AS ROW(
            event_id JSON, schema_version JSON, "timestamp" JSON, event_type JSON, page JSON, product_id JSON,
            user_id JSON, session_id JSON, device_type JSON, browser JSON, location JSON, referrer_url JSON,
            user_type JSON
        )) AS r
    FROM raw_lines
),
fields AS (
    SELECT
        source_object,
        line_number,
        line,
        arrival_hour,
        arrival_ts,
        r IS NOT NULL AND starts_with(ltrim(line), '{')
            -- Strict JSON (RFC 8259), as Athena parses it: some parsers also take NaN, Infinity and trailing
            -- commas. Look for them outside string literals, only on lines where the cheap scan finds a hint.
            -- CASE, not AND: engines evaluate both sides of an AND for every row; the costly check runs only
            -- on the ~1% of lines the prefilter flags.
            AND NOT CASE
                WHEN regexp_like(line, '(?i)nan|inf|,\s*[}\]]') THEN regexp_like(
                    regexp_replace(line, '"(\\.|[^"\\])*"', '""'),
                    '(?i)[:,\[]\s*[-+]?(nan|inf|infinity)\s*[,}\]]|,\s*[}\]]'
                )
                ELSE false
            END AS is_object,
        substr(json_format(r.event_id), 1, 1) AS event_id_t,
        substr(json_format(r.schema_version), 1, 1) AS schema_version_t,
        substr(json_format(r."timestamp"), 1, 1) AS timestamp_t,
        substr(json_format(r.event_type), 1, 1) AS event_type_t,
        substr(json_format(r.page), 1, 1) AS page_t,
        substr(json_format(r.product_id), 1, 1) AS product_id_t,
        substr(json_format(r.user_id), 1, 1) AS user_id_t,
        substr(json_format(r.session_id), 1, 1) AS session_id_t,
        substr(json_format(r.device_type), 1, 1) AS device_type_t,
        substr(json_format(r.browser), 1, 1) AS browser_t,
        substr(json_format(r.location), 1, 1) AS location_t,
        substr(json_format(r.referrer_url), 1, 1) AS referrer_url_t,
        substr(json_format(r.user_type), 1, 1) AS user_type_t,
        json_extract_scalar(r.event_id, '$') AS event_id,
        try_cast(json_format(r.schema_version) AS DOUBLE) AS schema_version,
        json_extract_scalar(r."timestamp", '$') AS ts_text,
        json_extract_scalar(r.event_type, '$') AS event_type,
        json_extract_scalar(r.page, '$') AS page,
        json_extract_scalar(r.product_id, '$') AS product_id,
        json_extract_scalar(r.user_id, '$') AS user_id,
        json_extract_scalar(r.session_id, '$') AS session_id,
        json_extract_scalar(r.device_type, '$') AS device_type,
        json_extract_scalar(r.browser, '$') AS browser,
        json_extract_scalar(r.location, '$') AS location,
        json_extract_scalar(r.referrer_url, '$') AS referrer_url,
        json_extract_scalar(r.user_type, '$') AS user_type
    FROM parsed
),
timed AS (
    SELECT
        *,
        CASE
            WHEN regexp_like(ts_text, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z$')
                THEN CAST(try(from_iso8601_timestamp(ts_text)) AS TIMESTAMP)
        END AS event_ts
    FROM fields
),
classified AS (
    SELECT
        *,
        CASE
            WHEN NOT is_object THEN 'malformed_json'
            WHEN event_id_t IS NULL OR schema_version_t IS NULL OR timestamp_t IS NULL OR event_type_t IS NULL
                OR page_t IS NULL OR user_id_t IS NULL OR session_id_t IS NULL OR device_type_t IS NULL
                OR browser_t IS NULL OR location_t IS NULL OR user_type_t IS NULL
                THEN 'missing_field'
            WHEN event_id_t <> '"' OR timestamp_t <> '"' OR event_type_t <> '"' OR page_t <> '"'
                OR user_id_t <> '"' OR session_id_t <> '"' OR device_type_t <> '"' OR browser_t <> '"'
                OR location_t <> '"' OR user_type_t <> '"'
                OR coalesce(product_id_t, '"') <> '"' OR coalesce(referrer_url_t, '"') <> '"'
                OR NOT regexp_like(schema_version_t, '^[-0-9]')
                THEN 'bad_type'
            WHEN event_type NOT IN ('view', 'click', 'add_to_cart', 'purchase') THEN 'unknown_event_type'
            WHEN device_type NOT IN ('mobile', 'desktop', 'tablet')
                OR user_type NOT IN ('new', 'returning')
                OR coalesce(schema_version, 0) <> 1
                OR NOT regexp_like(event_id, '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                THEN 'bad_value'
            WHEN event_ts IS NULL
                OR event_ts < date_add('day', -30, arrival_ts)
                OR date(event_ts) < date(:calendar_start)
                THEN 'bad_timestamp'
            WHEN event_ts > date_add('minute', 5, arrival_ts) THEN 'future_timestamp'
        END AS reason
    FROM timed
)
SELECT
    arrival_hour,
    source_object,
    line_number,
    arrival_ts,
    reason,
    CASE WHEN reason IS NULL THEN date(event_ts) ELSE date(arrival_ts) END AS route_dt,
    CASE WHEN reason IS NULL THEN event_id END AS event_id,
    CASE WHEN reason IS NULL THEN CAST(schema_version AS INTEGER) END AS schema_version,
    CASE WHEN reason IS NULL THEN event_ts END AS event_ts,
    CASE WHEN reason IS NULL THEN event_type END AS event_type,
    CASE WHEN reason IS NULL THEN page END AS page,
    CASE WHEN reason IS NULL THEN product_id END AS product_id,
    CASE WHEN reason IS NULL THEN user_id END AS user_id,
    CASE WHEN reason IS NULL THEN session_id END AS session_id,
    CASE WHEN reason IS NULL THEN device_type END AS device_type,
    CASE WHEN reason IS NULL THEN browser END AS browser,
    CASE WHEN reason IS NULL THEN location END AS location,
    CASE WHEN reason IS NULL THEN referrer_url END AS referrer_url,
    CASE WHEN reason IS NULL THEN user_type END AS user_type,
    CASE WHEN reason IS NOT NULL THEN line END AS raw_line
FROM classified
