-- A daily model's events with their page class: the days asked for and the day after (sessions run past
-- midnight), each page classed by the shop's patterns (:<class>_page_pattern, first match wins, else 'other';
-- see clickstream_assets/pages.py). The one definition of a page class: sessions and paths read it alike.
SELECT
    *,
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
