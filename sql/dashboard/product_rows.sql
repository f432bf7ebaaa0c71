-- Product views, adds and purchases per day: the dashboard ranks the top products of the chosen dates.
-- The model is not split by device or channel, so those filters do not apply here (the page says so).
SELECT
    dt,
    product_id,
    views,
    add_to_carts,
    purchases
FROM product_performance_daily
WHERE views > 0 OR add_to_carts > 0 OR purchases > 0
ORDER BY dt, product_id
