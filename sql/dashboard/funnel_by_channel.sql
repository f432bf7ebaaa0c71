-- Funnel step counts per channel over every built day.
SELECT
    channel AS segment,
    sum(sessions) AS sessions,
    sum(product_view) AS product_view,
    sum(add_to_cart) AS add_to_cart,
    sum(checkout) AS checkout,
    sum(purchase) AS purchase
FROM funnel_daily
GROUP BY channel
ORDER BY sessions DESC, segment
