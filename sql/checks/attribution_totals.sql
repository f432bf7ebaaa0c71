-- Each attribution model credits every order of a day exactly once: per day and model, its conversions and
-- revenue equal the day's orders and revenue (from orders, which orders_daily is checked against).
WITH days AS (
    SELECT dt, count(*) AS orders, sum(revenue) AS revenue
    FROM orders
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt
),
models AS (
    SELECT d.dt, m.model
    FROM days AS d CROSS JOIN (VALUES ('first_touch'), ('last_non_direct')) AS m (model)
),
credited AS (
    SELECT dt, model, sum(conversions) AS conversions, sum(revenue) AS revenue
    FROM attribution_daily
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt, model
)
SELECT
    count_if(c.dt IS NULL OR c.conversions <> d.orders OR c.revenue <> d.revenue) AS violations,
    (SELECT count(*) FROM credited AS x WHERE x.model NOT IN ('first_touch', 'last_non_direct')) AS unknown_models,
    coalesce(sum(d.revenue), 0) / 2 AS revenue_per_model
FROM models AS m
JOIN days AS d ON d.dt = m.dt
LEFT JOIN credited AS c ON c.dt = m.dt AND c.model = m.model
