-- The ten products bought most over every built day, with their views and adds.
SELECT
    product_id,
    sum(views) AS views,
    sum(add_to_carts) AS add_to_carts,
    sum(purchases) AS purchases,
    CAST(sum(purchases) AS DOUBLE) / nullif(sum(views), 0) AS view_to_purchase_rate
FROM product_performance_daily
GROUP BY product_id
ORDER BY purchases DESC, views DESC, product_id
LIMIT 10
