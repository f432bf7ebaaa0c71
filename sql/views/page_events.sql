-- A daily model's events, the days asked for and the day after (sessions run past midnight), with their page
-- class and the funnel steps they match: the one definition of both, read alike by sessions and paths.
-- A page belongs to the first class whose pattern (:<class>_page_pattern) matches it, else 'other'; an event
-- matches a step when '<event_type>:<page_class>' matches :<step>_step_pattern (see clickstream_assets/pages.py).
-- Each distinct event type and page is matched once and joined back: a day of 5M events has a few thousand, and
-- up to eleven regular expressions per event cost more than the join. Both are required by the contract. (The
-- events keep their table's name, no alias, so column lineage traces through.)
SELECT
    events.*,
    k.page_class,
    k.is_product_view,
    k.is_add_to_cart,
    k.is_checkout,
    k.is_purchase
FROM events
JOIN (
    SELECT
        event_type,
        page,
        page_class,
        regexp_like(event_type || ':' || page_class, :product_view_step_pattern) AS is_product_view,
        regexp_like(event_type || ':' || page_class, :add_to_cart_step_pattern) AS is_add_to_cart,
        regexp_like(event_type || ':' || page_class, :checkout_step_pattern) AS is_checkout,
        regexp_like(event_type || ':' || page_class, :purchase_step_pattern) AS is_purchase
    FROM (
        SELECT
            event_type,
            page,
            CASE
                WHEN regexp_like(page, :confirmation_page_pattern) THEN 'confirmation'
                WHEN regexp_like(page, :checkout_page_pattern) THEN 'checkout'
                WHEN regexp_like(page, :cart_page_pattern) THEN 'cart'
                WHEN regexp_like(page, :product_page_pattern) THEN 'product'
                WHEN regexp_like(page, :category_page_pattern) THEN 'category'
                WHEN regexp_like(page, :search_page_pattern) THEN 'search'
                WHEN regexp_like(page, :home_page_pattern) THEN 'home'
                ELSE 'other'
            END AS page_class
        FROM events
        WHERE dt BETWEEN date(:first_day) AND date_add('day', 1, date(:last_day))
        GROUP BY event_type, page
    ) AS pages
) AS k ON k.event_type = events.event_type AND k.page = events.page
WHERE events.dt BETWEEN date(:first_day) AND date_add('day', 1, date(:last_day))
