-- Each distinct event type and page of a daily model's events (the days asked for and the day after), with its
-- page class and the funnel steps it matches: the one definition of both, joined back to the events by
-- views/page_events.sql. A page belongs to the first class whose pattern (:<class>_page_pattern) matches it, else
-- 'other'; an event matches a step when '<event_type>:<page_class>' matches :<step>_step_pattern (see
-- clickstream_assets/pages.py). A day of 5M events has a few thousand pairs, so up to eleven regular expressions run
-- per pair, not per event. page_key numbers the pairs and class_key the classes (in their order, so every reading
-- numbers them alike): a model that picks or orders events carries a number, not strings, and joins names back.
SELECT
    event_type,
    page,
    page_class,
    regexp_like(event_type || ':' || page_class, :product_view_step_pattern) AS is_product_view,
    regexp_like(event_type || ':' || page_class, :add_to_cart_step_pattern) AS is_add_to_cart,
    regexp_like(event_type || ':' || page_class, :checkout_step_pattern) AS is_checkout,
    regexp_like(event_type || ':' || page_class, :purchase_step_pattern) AS is_purchase,
    row_number() OVER (ORDER BY event_type, page) AS page_key,
    CAST(dense_rank() OVER (ORDER BY page_class) AS INTEGER) AS class_key
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
) AS pairs
