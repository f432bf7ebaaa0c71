-- One row per order placed on a day of [:first_day, :last_day] (UTC): an order is every purchase line sharing an
-- order_id (a purchase sent without one is an order of its own line), on the day of its first line, with the
-- session, user, device and channel of that line. Its value is the sum of unit price x quantity (1 when not sent)
-- over its priced lines; items are the units. Lines of an order may straddle midnight, so the days around are read.
WITH lines AS (
    SELECT
        coalesce(order_id, event_id) AS order_key,
        order_id,
        event_ts,
        session_id,
        user_id,
        currency,
        coalesce(quantity, 1) AS quantity,
        price * coalesce(quantity, 1) AS line_value
    FROM events
    WHERE event_type = 'purchase'
        AND dt BETWEEN date_add('day', -1, date(:first_day)) AND date_add('day', 1, date(:last_day))
),
orders AS (
    SELECT
        order_key,
        min(order_id) AS order_id,
        min(event_ts) AS ordered_at,
        min_by(session_id, event_ts) AS session_id,
        min_by(user_id, event_ts) AS user_id,
        min(currency) AS currency,
        count(*) AS lines,
        sum(quantity) AS items,
        coalesce(sum(line_value), 0) AS revenue
    FROM lines
    GROUP BY order_key
    HAVING date(min(event_ts)) BETWEEN date(:first_day) AND date(:last_day)
),
order_sessions AS (
    SELECT session_id, device_type, channel
    FROM sessions
    WHERE dt BETWEEN date_add('day', -1, date(:first_day)) AND date(:last_day)
)
SELECT
    o.order_key,
    o.order_id,
    o.ordered_at,
    o.session_id,
    o.user_id,
    coalesce(s.device_type, 'unknown') AS device_type,
    coalesce(s.channel, 'unknown') AS channel,
    o.currency,
    o.lines,
    o.items,
    o.revenue,
    date(o.ordered_at) AS dt
FROM orders AS o
LEFT JOIN order_sessions AS s ON s.session_id = o.session_id
ORDER BY dt, o.ordered_at, o.order_key
