-- Orders and revenue per day, device, channel and currency, left unsummed for the dashboard's filters;
-- average order value is revenue over orders after summing.
SELECT
    dt,
    device_type,
    channel,
    currency,
    orders,
    revenue,
    items
FROM orders_daily
ORDER BY dt, device_type, channel, currency
