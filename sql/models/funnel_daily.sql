-- The closed, ordered funnel per day (of the session), device and channel: sessions reaching each step,
-- step-to-step and overall conversion, median seconds from session start to purchase, cart abandonment.
-- p50 and p90 seconds to convert are nearest-rank percentiles (the smallest value with at least 50% or 90% of the
-- converted sessions at or below it): exact, and the same on every engine, unlike approx_percentile.
WITH day_sessions AS (
    SELECT *
    FROM sessions
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
),
converted AS (
    SELECT
        dt,
        device_type,
        channel,
        date_diff('second', session_start, purchase_at) AS seconds,
        row_number() OVER (PARTITION BY dt, device_type, channel ORDER BY date_diff('second', session_start, purchase_at)) AS n,
        count(*) OVER (PARTITION BY dt, device_type, channel) AS total
    FROM day_sessions
    WHERE purchase_at IS NOT NULL
),
medians AS (
    -- The exact median: the middle value, or the mean of the two middle values.
    SELECT
        dt,
        device_type,
        channel,
        avg(CASE WHEN n IN ((total + 1) / 2, (total + 2) / 2) THEN seconds END) AS median_seconds_to_convert,
        min(CASE WHEN n * 100 >= total * 50 THEN seconds END) AS p50_seconds_to_convert,
        min(CASE WHEN n * 100 >= total * 90 THEN seconds END) AS p90_seconds_to_convert
    FROM converted
    GROUP BY dt, device_type, channel
),
steps AS (
    SELECT
        dt,
        device_type,
        channel,
        count(*) AS sessions,
        count(product_view_at) AS product_view,
        count(add_to_cart_at) AS add_to_cart,
        count(checkout_at) AS checkout,
        count(purchase_at) AS purchase
    FROM day_sessions
    GROUP BY dt, device_type, channel
)
SELECT
    s.device_type,
    s.channel,
    s.sessions,
    s.product_view,
    s.add_to_cart,
    s.checkout,
    s.purchase,
    CAST(s.product_view AS DOUBLE) / nullif(s.sessions, 0) AS session_to_view_rate,
    CAST(s.add_to_cart AS DOUBLE) / nullif(s.product_view, 0) AS view_to_cart_rate,
    CAST(s.checkout AS DOUBLE) / nullif(s.add_to_cart, 0) AS cart_to_checkout_rate,
    CAST(s.purchase AS DOUBLE) / nullif(s.checkout, 0) AS checkout_to_purchase_rate,
    CAST(s.purchase AS DOUBLE) / nullif(s.sessions, 0) AS overall_conversion_rate,
    m.median_seconds_to_convert,
    CAST(s.add_to_cart - s.purchase AS DOUBLE) / nullif(s.add_to_cart, 0) AS cart_abandonment_rate,
    m.p50_seconds_to_convert,
    m.p90_seconds_to_convert,
    s.dt
FROM steps AS s
LEFT JOIN medians AS m ON s.dt = m.dt AND s.device_type = m.device_type AND s.channel = m.channel
ORDER BY s.dt, s.device_type, s.channel
