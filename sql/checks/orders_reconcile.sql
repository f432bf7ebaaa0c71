-- orders_daily against the purchase lines themselves: the orders, units and revenue of the orders placed in
-- [:first_day, :last_day] (an order's day is that of its first line), counted straight from the clean events.
WITH lines AS (
    SELECT coalesce(order_id, event_id) AS order_key, event_ts, coalesce(quantity, 1) AS quantity,
        price * coalesce(quantity, 1) AS line_value
    FROM events
    WHERE event_type = 'purchase'
        AND dt BETWEEN date_add('day', -1, date(:first_day)) AND date_add('day', 1, date(:last_day))
),
placed AS (
    SELECT order_key
    FROM lines
    GROUP BY order_key
    HAVING date(min(event_ts)) BETWEEN date(:first_day) AND date(:last_day)
),
expected AS (
    SELECT count(DISTINCT l.order_key) AS orders, coalesce(sum(l.quantity), 0) AS items,
        coalesce(sum(l.line_value), 0) AS revenue
    FROM lines AS l
    JOIN placed AS p ON p.order_key = l.order_key
),
reported AS (
    SELECT coalesce(sum(orders), 0) AS orders, coalesce(sum(items), 0) AS items, coalesce(sum(revenue), 0) AS revenue
    FROM orders_daily
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
)
SELECT
    CAST(e.orders <> r.orders AS INTEGER) + CAST(e.items <> r.items AS INTEGER)
        + CAST(e.revenue <> r.revenue AS INTEGER) AS violations,
    e.orders AS orders_in_events,
    r.orders AS orders_reported,
    e.items AS items_in_events,
    r.items AS items_reported,
    CAST(e.revenue AS VARCHAR) AS revenue_in_events,
    CAST(r.revenue AS VARCHAR) AS revenue_reported
FROM expected AS e CROSS JOIN reported AS r
