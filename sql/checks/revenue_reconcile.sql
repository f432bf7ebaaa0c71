-- Revenue over every built day, cut four ways: by order (orders_daily), by product (product_performance_daily)
-- and by each attribution model. One revenue: all four agree.
SELECT
    (SELECT coalesce(sum(revenue), 0) FROM orders_daily) AS orders_revenue,
    (SELECT coalesce(sum(orders), 0) FROM orders_daily) AS orders,
    (SELECT coalesce(sum(revenue), 0) FROM product_performance_daily) AS product_revenue,
    (SELECT coalesce(sum(revenue), 0) FROM attribution_daily WHERE model = 'first_touch') AS first_touch_revenue,
    (SELECT coalesce(sum(revenue), 0) FROM attribution_daily WHERE model = 'last_non_direct') AS last_non_direct_revenue
