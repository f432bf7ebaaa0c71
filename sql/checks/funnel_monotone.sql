-- Each funnel step holds no more sessions than the one before, and every rate lies in [0, 1].
SELECT
    count_if(NOT (product_view <= sessions AND add_to_cart <= product_view AND checkout <= add_to_cart
        AND purchase <= checkout)) AS violations,
    count_if(NOT (coalesce(view_to_cart_rate, 0) BETWEEN 0 AND 1 AND coalesce(cart_to_checkout_rate, 0) BETWEEN 0 AND 1
        AND coalesce(checkout_to_purchase_rate, 0) BETWEEN 0 AND 1 AND coalesce(overall_conversion_rate, 0) BETWEEN 0 AND 1
        AND coalesce(cart_abandonment_rate, 0) BETWEEN 0 AND 1)) AS rates_out_of_range,
    coalesce(sum(sessions), 0) AS sessions,
    coalesce(sum(purchase), 0) AS purchases
FROM funnel_daily
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
