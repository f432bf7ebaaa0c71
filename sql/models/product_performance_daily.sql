-- Per product and day of the event: product-page views, clicks on the product, adds, purchases, unique users,
-- and from the purchase lines units sold (quantity, 1 when not sent) and revenue (unit price x quantity).
SELECT
    product_id,
    count_if(event_type = 'view') AS views,
    count_if(event_type = 'click') AS clicks,
    count_if(event_type = 'add_to_cart') AS add_to_carts,
    count_if(event_type = 'purchase') AS purchases,
    count(DISTINCT user_id) AS unique_users,
    CAST(count_if(event_type = 'add_to_cart') AS DOUBLE) / nullif(count_if(event_type = 'view'), 0) AS view_to_cart_rate,
    CAST(count_if(event_type = 'purchase') AS DOUBLE) / nullif(count_if(event_type = 'add_to_cart'), 0)
        AS cart_to_purchase_rate,
    coalesce(sum(CASE WHEN event_type = 'purchase' THEN coalesce(quantity, 1) END), 0) AS units,
    coalesce(sum(CASE WHEN event_type = 'purchase' THEN price * coalesce(quantity, 1) END), 0) AS revenue,
    dt
FROM events
WHERE dt BETWEEN date(:first_day) AND date(:last_day) AND product_id IS NOT NULL
GROUP BY dt, product_id
ORDER BY dt, product_id
