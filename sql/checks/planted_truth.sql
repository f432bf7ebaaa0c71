-- Measured rates to hold against the simulator's planted behaviour, over every built day: bounces per channel
-- (sessions), each funnel step per device (funnel_daily), and the share of sessions from new users (sessions).
-- The simulator decides on a cart only in sessions that did not bounce, so that step is measured there: a session
-- that lands on a product page and leaves counts as a product view in the funnel but never had the chance.
SELECT 'bounce_rate' AS rate, channel AS segment, count(*) AS trials, count_if(bounced) AS successes
FROM sessions
GROUP BY channel
UNION ALL
SELECT 'add_to_cart_rate', device_type, count(product_view_at), count(add_to_cart_at)
FROM sessions
WHERE NOT bounced
GROUP BY device_type
UNION ALL
SELECT 'checkout_rate', 'all', sum(add_to_cart), sum(checkout)
FROM funnel_daily
UNION ALL
SELECT 'purchase_rate', device_type, sum(checkout), sum(purchase)
FROM funnel_daily
GROUP BY device_type
UNION ALL
SELECT 'new_user_share', 'all', count(*), count_if(user_type = 'new')
FROM sessions
