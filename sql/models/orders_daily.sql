-- Orders per day (of the order), device, channel and currency: orders, revenue, items, average order value, and
-- revenue per session (over every session of that day, device and channel, buying or not).
WITH day_orders AS (
    SELECT
        dt,
        device_type,
        channel,
        currency,
        count(*) AS orders,
        sum(revenue) AS revenue,
        sum(items) AS items
    FROM orders
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt, device_type, channel, currency
),
day_sessions AS (
    SELECT dt, device_type, channel, count(*) AS sessions
    FROM sessions
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt, device_type, channel
)
SELECT
    o.device_type,
    o.channel,
    o.currency,
    o.orders,
    o.revenue,
    o.items,
    CAST(o.revenue AS DOUBLE) / o.orders AS average_order_value,
    CAST(o.revenue AS DOUBLE) / nullif(s.sessions, 0) AS revenue_per_session,
    o.dt
FROM day_orders AS o
LEFT JOIN day_sessions AS s ON s.dt = o.dt AND s.device_type = o.device_type AND s.channel = o.channel
ORDER BY o.dt, o.device_type, o.channel, o.currency
