-- A daily model's events, the days asked for and the day after (sessions run past midnight), with their page
-- class, the funnel steps they match and the numbers of their pair and class, all from views/pages.sql: matched
-- once per distinct event type and page and joined back (up to eleven regular expressions per event cost more than
-- the join). Both are required by the contract. (The events keep their table's name, no alias, so column lineage
-- traces through.)
SELECT
    events.*,
    k.page_class,
    k.is_product_view,
    k.is_add_to_cart,
    k.is_checkout,
    k.is_purchase,
    k.page_key,
    k.class_key
FROM events
JOIN pages AS k ON k.event_type = events.event_type AND k.page = events.page
WHERE events.dt BETWEEN date(:first_day) AND date_add('day', 1, date(:last_day))
