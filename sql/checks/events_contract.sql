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
    count_if(schema_version NOT IN (0, 1) OR schema_version IS NULL) AS bad_schema_version,
    count(*) - count(DISTINCT event_id) AS duplicate_event_ids
FROM events
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt
ORDER BY dt
