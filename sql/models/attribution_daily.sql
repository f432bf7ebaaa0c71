-- Orders and revenue per day (of the order) and channel under two attribution models, over the user's sessions
-- that started in the :attribution_lookback_days days before the order, up to the one it was placed in:
-- first_touch credits the earliest of them; last_non_direct the latest whose channel is not direct (direct when
-- all are). Each model credits every order once, so each model's revenue is the day's revenue.
WITH day_orders AS (
    SELECT order_key, user_id, session_id, ordered_at, channel, revenue, dt
    FROM orders
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
),
touches AS (
    SELECT user_id, session_id, session_start, channel
    FROM sessions
    WHERE dt BETWEEN date_add('day', -CAST(:attribution_lookback_days AS INTEGER) - 1, date(:first_day))
        AND date(:last_day)
),
credited AS (
    SELECT
        o.order_key,
        min_by(t.channel, t.session_start) AS first_touch,
        max_by(CASE WHEN t.channel <> 'direct' THEN t.channel END,
               CASE WHEN t.channel <> 'direct' THEN t.session_start END) AS last_non_direct
    FROM day_orders AS o
    JOIN touches AS t
        ON t.user_id = o.user_id
        AND t.session_start <= o.ordered_at
        AND t.session_start >= date_add('day', -CAST(:attribution_lookback_days AS INTEGER), o.ordered_at)
    GROUP BY o.order_key
),
attributed AS (
    -- An order whose session is not (yet) in the sessions table keeps the channel recorded on the order.
    SELECT o.dt, 'first_touch' AS model, coalesce(c.first_touch, o.channel) AS channel, o.revenue
    FROM day_orders AS o
    LEFT JOIN credited AS c ON c.order_key = o.order_key
    UNION ALL
    SELECT
        o.dt,
        'last_non_direct' AS model,
        CASE WHEN c.order_key IS NULL THEN o.channel ELSE coalesce(c.last_non_direct, 'direct') END AS channel,
        o.revenue
    FROM day_orders AS o
    LEFT JOIN credited AS c ON c.order_key = o.order_key
)
SELECT
    channel,
    model,
    count(*) AS conversions,
    sum(revenue) AS revenue,
    dt
FROM attributed
GROUP BY dt, channel, model
ORDER BY dt, model, channel
