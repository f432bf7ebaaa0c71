-- Each order appears once, with at least one line, as many units as lines or more, and no negative value.
SELECT
    (count(*) - count(DISTINCT order_key)) + count_if(lines < 1 OR items < lines OR revenue < 0) AS violations,
    count(*) AS orders,
    coalesce(sum(revenue), 0) AS revenue
FROM orders
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
