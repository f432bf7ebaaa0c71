-- The funnel per day, device and channel, left unsummed: the dashboard's filters and KPIs add these rows up
-- (conversion and cart abandonment as ratios of sums, never averages of daily ratios).
SELECT
    dt,
    device_type,
    channel,
    sessions,
    product_view,
    add_to_cart,
    checkout,
    purchase,
    add_to_cart - purchase AS abandoned_carts
FROM funnel_daily
ORDER BY dt, device_type, channel
