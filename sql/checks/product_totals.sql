-- Product totals equal event totals: every product event of [:first_day, :last_day] is counted once.
WITH products AS (
    SELECT coalesce(sum(views + clicks + add_to_carts + purchases), 0) AS counted
    FROM product_performance_daily
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
),
raw AS (
    SELECT count(*) AS events
    FROM events
    WHERE dt BETWEEN date(:first_day) AND date(:last_day) AND product_id IS NOT NULL
)
SELECT abs(p.counted - r.events) AS violations, p.counted AS product_events_counted, r.events AS product_events
FROM products AS p CROSS JOIN raw AS r
