-- Headline figures over every built day: sessions, purchases, conversion, bounce and engagement.
SELECT
    count(DISTINCT dt) AS days,
    coalesce(sum(sessions), 0) AS sessions,
    coalesce(sum(purchase), 0) AS purchases,
    CAST(sum(purchase) AS DOUBLE) / nullif(sum(sessions), 0) AS conversion_rate,
    CAST(sum(add_to_cart - purchase) AS DOUBLE) / nullif(sum(add_to_cart), 0) AS cart_abandonment_rate
FROM funnel_daily
