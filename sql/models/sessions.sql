-- One row per session whose first event falls on a day of [:first_day, :last_day] (UTC).
-- A session is keyed by the session_id the tracker sent (trackers start a new one after 30 idle minutes).
-- Sessions may run past midnight, so the day after the range is read too.
-- Pages are classed by the shop's patterns (:<class>_page_pattern, first match wins, else 'other'; see
-- clickstream_assets/pages.py). The funnel is closed and ordered: the first event matching the product_view step,
-- then the first add_to_cart step at or after it, the first checkout step at or after that, the first purchase
-- step at or after that; each step is a pattern over '<event_type>:<page_class>' (:<step>_step_pattern).
-- The conversion window: with :funnel_window_seconds > 0 a later step counts only within that many seconds of the
-- product view; 0 means the whole session.
-- Channel rules, first match wins: no referrer -> direct; an email link (utm_medium=email, a mail. host) -> email;
-- an ad click (gclid, utm_medium=cpc|paid, /aclk) -> paid_search; a search engine -> organic_search;
-- a social network -> social; any other site -> referral.
WITH base AS (
    -- One pass over the events builds every session: its product view, and the times of the events that can be a
    -- later step (a few per session), from which funnel picks each step.
    SELECT
        session_id,
        min(user_id) AS user_id,
        min(event_ts) AS session_start,
        max(event_ts) AS session_end,
        count_if(event_type = 'view') AS page_views,
        count(*) AS events,
        -- The first and last event's pair, as a number: two strings per session held while grouping cost more.
        min_by(page_key, event_ts) AS landing_page_key,
        max_by(page_key, event_ts) AS exit_page_key,
        min(device_type) AS device_type,
        min(browser) AS browser,
        min(location) AS location,
        min(referrer_url) AS referrer_url,
        min(user_type) AS user_type,
        count_if(is_product_view) AS product_views,
        count_if(is_add_to_cart) AS add_to_carts,
        count_if(is_purchase) AS purchases,
        min(CASE WHEN is_product_view THEN event_ts END) AS product_view_at,
        array_agg(event_ts) FILTER (WHERE is_add_to_cart) AS add_to_cart_times,
        array_agg(event_ts) FILTER (WHERE is_checkout) AS checkout_times,
        array_agg(event_ts) FILTER (WHERE is_purchase) AS purchase_times
    FROM page_events
    GROUP BY session_id
    HAVING date(min(event_ts)) BETWEEN date(:first_day) AND date(:last_day)
),
windowed AS (
    -- A later step counts within the conversion window of the product view (all of the session when it is 0).
    SELECT
        *,
        CASE
            WHEN CAST(:funnel_window_seconds AS INTEGER) = 0 THEN session_end
            ELSE date_add('second', CAST(:funnel_window_seconds AS INTEGER), product_view_at)
        END AS window_end
    FROM base
),
step2 AS (
    SELECT *, array_min(filter(add_to_cart_times, t -> t >= product_view_at AND t <= window_end)) AS add_to_cart_at
    FROM windowed
),
step3 AS (
    SELECT *, array_min(filter(checkout_times, t -> t >= add_to_cart_at AND t <= window_end)) AS checkout_at
    FROM step2
),
step4 AS (
    SELECT *, array_min(filter(purchase_times, t -> t >= checkout_at AND t <= window_end)) AS purchase_at
    FROM step3
),
pairs AS (
    -- The landing and exit pairs' page and class, read by number from two arrays indexed by page_key (1, 2, …, as
    -- views/pages.sql numbers them). Joining the pairs twice made DuckDB, which guesses the pairs as many as the
    -- sessions, build its hash tables from the million sessions, wide rows and all: ~1 CPU-s more at 5M events, and
    -- close to the memory limit.
    SELECT array_agg(page ORDER BY page_key) AS pages, array_agg(page_class ORDER BY page_key) AS classes
    FROM pages
),
hosts AS (
    SELECT
        *,
        lower(regexp_extract(referrer_url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]+)', 1)) AS referrer_host
    FROM step4
)
SELECT
    h.session_id,
    h.user_id,
    h.session_start,
    h.session_end,
    date_diff('second', h.session_start, h.session_end) AS duration_seconds,
    h.page_views,
    h.events,
    element_at(p.pages, h.landing_page_key) AS landing_page,
    element_at(p.pages, h.exit_page_key) AS exit_page,
    element_at(p.classes, h.landing_page_key) AS landing_page_class,
    element_at(p.classes, h.exit_page_key) AS exit_page_class,
    h.device_type,
    h.browser,
    h.location,
    h.referrer_url,
    h.referrer_host,
    CASE
        WHEN h.referrer_url IS NULL OR h.referrer_url = '' THEN 'direct'
        WHEN h.referrer_url LIKE '%utm_medium=email%' OR h.referrer_host LIKE 'mail.%' THEN 'email'
        WHEN h.referrer_url LIKE '%gclid=%' OR h.referrer_url LIKE '%utm_medium=cpc%'
            OR h.referrer_url LIKE '%utm_medium=paid%' OR h.referrer_url LIKE '%/aclk%' THEN 'paid_search'
        WHEN regexp_like(h.referrer_host, '(^|\.)(google\.[a-z.]+|bing\.com|duckduckgo\.com|search\.yahoo\.com|yandex\.[a-z]+|baidu\.com|ecosia\.org)$')
            THEN 'organic_search'
        WHEN regexp_like(h.referrer_host, '(^|\.)(facebook\.com|instagram\.com|t\.co|twitter\.com|x\.com|tiktok\.com|pinterest\.com|linkedin\.com|reddit\.com|youtube\.com)$')
            THEN 'social'
        ELSE 'referral'
    END AS channel,
    h.user_type,
    h.page_views = 1 AS bounced,
    h.page_views >= 2 OR date_diff('second', h.session_start, h.session_end) >= 10 OR h.purchases > 0 AS engaged,
    h.add_to_carts > 0 AS added_to_cart,
    h.checkout_at IS NOT NULL AS reached_checkout,
    h.purchases > 0 AS purchased,
    h.product_views,
    h.add_to_carts,
    h.purchases,
    h.product_view_at,
    h.add_to_cart_at,
    h.checkout_at,
    h.purchase_at,
    date(h.session_start) AS dt
FROM hosts AS h
CROSS JOIN pairs AS p
    -- By start: the same order as by day, then start, with one sort key fewer.
ORDER BY h.session_start, h.session_id
