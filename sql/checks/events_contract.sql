-- Rows of the clean events of [:first_day, :last_day] that break the contract (all should be zero).
SELECT
    dt,
    count(*) AS rows_checked,
    count_if(event_id IS NULL OR NOT regexp_like(event_id, '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'))
        AS bad_event_id,
    count_if(event_ts IS NULL OR date(event_ts) <> dt) AS bad_event_ts,
    count_if(event_type NOT IN ('view', 'click', 'add_to_cart', 'purchase') OR event_type IS NULL) AS bad_event_type,
    count_if(device_type NOT IN ('mobile', 'desktop', 'tablet') OR device_type IS NULL) AS bad_device_type,
    count_if(user_type NOT IN ('new', 'returning') OR user_type IS NULL) AS bad_user_type,
    count_if(user_id IS NULL OR session_id IS NULL OR page IS NULL OR browser IS NULL OR location IS NULL)
        AS null_required,
    count_if(schema_version NOT IN (0, 1, 2) OR schema_version IS NULL) AS bad_schema_version,
    -- Version 2's commerce fields: only on version 2 events, and within the contract's ranges.
    count_if((schema_version < 2 AND (order_id IS NOT NULL OR price IS NOT NULL OR quantity IS NOT NULL
            OR currency IS NOT NULL))
        OR price < 0 OR quantity < 1 OR order_id = '' OR (price IS NOT NULL AND currency IS NULL)
        OR length(currency) <> 3) AS bad_commerce,
    count(*) - count(DISTINCT event_id) AS duplicate_event_ids
FROM events
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt
ORDER BY dt
