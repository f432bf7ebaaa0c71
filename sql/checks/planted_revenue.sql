-- Orders, revenue and purchasing sessions over every built day, to hold against the orders the simulator sent:
-- the mean order value, orders per purchasing session, and the share of purchasing sessions that ordered again.
SELECT
    count(*) AS orders,
    coalesce(sum(revenue), 0) AS revenue,
    count(DISTINCT session_id) AS purchasing_sessions,
    (SELECT count(*) FROM (SELECT session_id FROM orders GROUP BY session_id HAVING count(*) > 1)) AS reordering_sessions
FROM orders
