-- Classify every raw line of the arrival hours being sealed, exactly once.
-- Input: raw_lines(source_object, line_number, line, arrival_hour, arrival_ts): one row per line of each sealed
-- object; the arrival hour is the object's YYYY/MM/DD/HH folder, the arrival time the one in its name.
-- Output: one row per line, typed when valid, with its reason code when not (contract.py holds the same rules,
-- in the same order; a test keeps the two in step). route_dt is the day that will take the line: the event's
-- UTC date when valid, else the arrival date, so nothing waits for a day that will never be built.
-- Events without schema_version are the original project's shape (its 11 fields): version 0, and an event_id
-- derived from the content (the MD5 of the 11 fields joined by U+001F, shaped like a UUID), so a redelivered
-- record still dedupes. Version 2 adds optional commerce fields (order_id, price, quantity, currency), read and
-- checked only on version 2 events: a price needs a currency, a price lies in [0, 1e9], a quantity is a whole
-- number in [1, 1e6], a currency three capital letters, an order_id not empty.
-- Parameters: :calendar_start, the first day of the partition calendar (YYYY-MM-DD); :max_event_age_days, the
-- live-stream guard: an event older than this at its arrival is quarantined.
WITH parsed AS (
    SELECT
        source_object,
        line_number,
        line,
        arrival_hour,
        arrival_ts,
        -- One parse per line into the field values; whether they can be trusted is decided below.
        try_cast(try(json_parse(line)) AS ROW(
            event_id VARCHAR, schema_version VARCHAR, "timestamp" VARCHAR, event_type VARCHAR, page VARCHAR,
            product_id VARCHAR, user_id VARCHAR, session_id VARCHAR, device_type VARCHAR, browser VARCHAR,
            location VARCHAR, referrer_url VARCHAR, user_type VARCHAR,
            order_id VARCHAR, price VARCHAR, quantity VARCHAR, currency VARCHAR
        )) AS v
    FROM raw_lines
),
shaped AS (
    SELECT
        *,
        -- Fast path: the exact shape producers write (compact, fields in contract order, strings without escapes,
        -- schema_version 1 or 2, commerce fields after product_id when sent). The line is compared with the text of
        -- that shape for its own parsed values: equal, it is strict JSON with every field present, once, and of the
        -- right type (a string the parse unescaped, a number or null where a string goes, a missing, repeated or
        -- extra field, any space, all make the texts differ), so one comparison replaces the field-by-field type
        -- tests below, which cost three times as much, and the pattern match that cost five times as much.
        -- concat_ws, not concat: one allocation (DuckDB chains concat's pairs); a null it skips cannot make the texts
        -- equal, as the parse gives '' for the "" the line would then need.
        coalesce(
            v.schema_version IN ('1', '2')
            AND (v.price IS NULL OR regexp_like(v.price, '^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$')
                AND regexp_like(v.quantity, '^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$'))
            AND line = concat_ws(
                '', '{"event_id":"', v.event_id, '","schema_version":', v.schema_version,
                ',"timestamp":"', v."timestamp", '","event_type":"', v.event_type, '","page":"', v.page,
                '","product_id":', coalesce('"' || v.product_id || '"', 'null'),
                CASE WHEN v.order_id IS NOT NULL THEN ',"order_id":"' || v.order_id || '"' ELSE '' END,
                CASE WHEN v.price IS NOT NULL THEN concat_ws(
                    '', ',"price":', v.price, ',"quantity":', v.quantity, ',"currency":"', v.currency, '"'
                ) ELSE '' END,
                ',"user_id":"', v.user_id, '","session_id":"', v.session_id, '","device_type":"', v.device_type,
                '","browser":"', v.browser, '","location":"', v.location,
                '","referrer_url":', coalesce('"' || v.referrer_url || '"', 'null'),
                ',"user_type":"', v.user_type, '"}'
            ),
            false
        ) AS canonical
    FROM parsed
),
typed AS (
    SELECT
        *,
        -- Every other line is parsed again with each field kept as JSON, so its type can still be checked.
        CASE WHEN NOT canonical THEN try_cast(try(json_parse(line)) AS ROW(
            event_id JSON, schema_version JSON, "timestamp" JSON, event_type JSON, page JSON, product_id JSON,
            user_id JSON, session_id JSON, device_type JSON, browser JSON, location JSON, referrer_url JSON,
            user_type JSON, order_id JSON, price JSON, quantity JSON, currency JSON
        )) END AS r
    FROM shaped
),
fields AS (
    SELECT
        source_object,
        line_number,
        line,
        arrival_hour,
        arrival_ts,
        canonical,
        CASE
            WHEN canonical THEN true
            -- Strict JSON (RFC 8259), as Athena parses it: some parsers also take NaN, Infinity and trailing
            -- commas. Look for them outside string literals, only on lines where the cheap scan finds a hint.
            -- CASE, not AND or OR: engines evaluate both sides of those for every row; this way the costly
            -- checks run only on the lines off the fast path, and the costliest only on those the scan flags.
            WHEN r IS NULL OR NOT starts_with(ltrim(line), '{') THEN false
            WHEN regexp_like(line, '(?i)nan|inf|,\s*[}\]]') THEN NOT regexp_like(
                regexp_replace(line, '"(\\.|[^"\\])*"', '""'),
                '(?i)[:,\[]\s*[-+]?(nan|inf|infinity)\s*[,}\]]|,\s*[}\]]'
            )
            ELSE true
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
        substr(json_format(r.order_id), 1, 1) AS order_id_t,
        substr(json_format(r.price), 1, 1) AS price_t,
        substr(json_format(r.quantity), 1, 1) AS quantity_t,
        substr(json_format(r.currency), 1, 1) AS currency_t,
        -- Version 2 (the number 2, not the string): only then do the commerce fields count.
        coalesce(try_cast(v.schema_version AS DOUBLE) = 2
            AND (canonical OR regexp_like(coalesce(substr(json_format(r.schema_version), 1, 1), ''), '^[-0-9]')), false)
            AS is_v2,
        v.event_id,
        try_cast(v.schema_version AS DOUBLE) AS schema_version,
        v."timestamp" AS ts_text,
        v.event_type,
        v.page,
        v.product_id,
        v.user_id,
        v.session_id,
        v.device_type,
        v.browser,
        v.location,
        v.referrer_url,
        v.user_type,
        v.order_id,
        v.price AS price_text,
        try_cast(v.price AS DOUBLE) AS price_number,
        v.quantity AS quantity_text,
        try_cast(v.quantity AS DOUBLE) AS quantity_number,
        v.currency
    FROM typed
),
timed AS (
    SELECT
        *,
        -- Z, an offset (converted to UTC) or no zone (UTC); fractions past the microsecond are cut.
        CASE
            WHEN regexp_like(ts_text, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$')
                THEN CAST(try(from_iso8601_timestamp(ts_text)) AT TIME ZONE 'UTC' AS TIMESTAMP)
        END AS event_ts
    FROM fields
),
classified AS (
    SELECT
        *,
        CASE
            WHEN NOT is_object THEN 'malformed_json'
            -- A line of the canonical shape has every field, each of the right type.
            -- event_id may be absent only where schema_version is: that is the original shape.
            WHEN NOT canonical AND (
                (event_id_t IS NULL AND schema_version_t IS NOT NULL) OR timestamp_t IS NULL OR event_type_t IS NULL
                OR page_t IS NULL OR user_id_t IS NULL OR session_id_t IS NULL OR device_type_t IS NULL
                OR browser_t IS NULL OR location_t IS NULL OR user_type_t IS NULL
                OR (is_v2 AND price_t IS NOT NULL AND currency_t IS NULL)
            ) THEN 'missing_field'
            WHEN NOT canonical AND (
                coalesce(event_id_t, '"') <> '"' OR timestamp_t <> '"' OR event_type_t <> '"' OR page_t <> '"'
                OR user_id_t <> '"' OR session_id_t <> '"' OR device_type_t <> '"' OR browser_t <> '"'
                OR location_t <> '"' OR user_type_t <> '"'
                OR coalesce(product_id_t, '"') <> '"' OR coalesce(referrer_url_t, '"') <> '"'
                OR NOT regexp_like(coalesce(schema_version_t, '0'), '^[-0-9]')
                OR (is_v2 AND (coalesce(order_id_t, '"') <> '"' OR coalesce(currency_t, '"') <> '"'
                    OR NOT regexp_like(coalesce(price_t, '0'), '^[-0-9]')
                    OR NOT regexp_like(coalesce(quantity_t, '0'), '^[-0-9]')))
            ) THEN 'bad_type'
            WHEN event_type NOT IN ('view', 'click', 'add_to_cart', 'purchase') THEN 'unknown_event_type'
            WHEN device_type NOT IN ('mobile', 'desktop', 'tablet')
                OR user_type NOT IN ('new', 'returning')
                OR (schema_version_t IS NOT NULL AND coalesce(schema_version, 0) NOT IN (1, 2))
                OR NOT regexp_like(coalesce(event_id, '00000000-0000-0000-0000-000000000000'), '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                OR (is_v2 AND (
                    order_id = ''
                    OR (price_text IS NOT NULL AND NOT coalesce(price_number BETWEEN 0 AND 1000000000, false))
                    OR (quantity_text IS NOT NULL AND NOT coalesce(quantity_number BETWEEN 1 AND 1000000
                        AND quantity_number = floor(quantity_number), false))
                    -- Three capital letters; length, not a '$' anchor, which Java's regexes let a newline pass.
                    OR (currency IS NOT NULL AND NOT (length(currency) = 3 AND regexp_like(currency, '^[A-Z]{3}')))
                ))
                THEN 'bad_value'
            WHEN event_ts IS NULL
                OR event_ts < date_add('day', -CAST(:max_event_age_days AS INTEGER), arrival_ts)
                OR date(event_ts) < date(:calendar_start)
                THEN 'bad_timestamp'
            WHEN event_ts > date_add('minute', 5, arrival_ts) THEN 'future_timestamp'
        END AS reason,
        -- Only events sent without an id need one made: the hash is not computed for the rest.
        CASE WHEN event_id IS NULL THEN lower(to_hex(md5(to_utf8(concat_ws(chr(31),
            coalesce(ts_text, ''), coalesce(event_type, ''), coalesce(page, ''), coalesce(product_id, ''),
            coalesce(user_id, ''), coalesce(session_id, ''), coalesce(device_type, ''), coalesce(browser, ''),
            coalesce(location, ''), coalesce(referrer_url, ''), coalesce(user_type, '')
        ))))) END AS content_hash
    FROM timed
)
SELECT
    arrival_hour,
    source_object,
    line_number,
    arrival_ts,
    reason,
    CASE WHEN reason IS NULL THEN date(event_ts) ELSE date(arrival_ts) END AS route_dt,
    CASE WHEN reason IS NULL THEN coalesce(event_id, concat(
        substr(content_hash, 1, 8), '-', substr(content_hash, 9, 4), '-', substr(content_hash, 13, 4), '-',
        substr(content_hash, 17, 4), '-', substr(content_hash, 21, 12)
    )) END AS event_id,
    CASE WHEN reason IS NULL THEN coalesce(CAST(schema_version AS INTEGER), 0) END AS schema_version,
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
    CASE WHEN reason IS NOT NULL THEN line END AS raw_line,
    CASE WHEN reason IS NULL AND is_v2 THEN order_id END AS order_id,
    CASE WHEN reason IS NULL AND is_v2 THEN CAST(price_number AS DECIMAL(18, 4)) END AS price,
    CASE WHEN reason IS NULL AND is_v2 THEN CAST(quantity_number AS INTEGER) END AS quantity,
    CASE WHEN reason IS NULL AND is_v2 THEN currency END AS currency
FROM classified
