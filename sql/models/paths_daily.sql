-- Page-class transitions of each session starting on a day of [:first_day, :last_day], for a Sankey: a step is a
-- visit to a page class (consecutive events of one class are one step), numbered from the landing page (step 1);
-- each of the first 10 steps goes to the next step's class, or to 'exit' where the session ends. So the sessions
-- at step 1 are all the day's sessions, and each step's sessions are those that got that far.
-- Pages are classed by the shop's patterns exactly as in models/sessions.sql (a test holds the two the same).
WITH window_events AS (
    SELECT
        session_id,
        event_id,
        event_ts,
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
),
ordered AS (
    SELECT
        *,
        lag(page_class) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS previous_class,
        min(event_ts) OVER (PARTITION BY session_id) AS session_start
    FROM window_events
),
steps AS (
    SELECT
        session_id,
        session_start,
        page_class,
        row_number() OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS step
    FROM ordered
    WHERE previous_class IS NULL OR previous_class <> page_class
),
transitions AS (
    SELECT
        date(session_start) AS dt,
        step,
        page_class AS from_page_class,
        coalesce(lead(page_class) OVER (PARTITION BY session_id ORDER BY step), 'exit') AS to_page_class
    FROM steps
)
SELECT step, from_page_class, to_page_class, count(*) AS sessions, dt
FROM transitions
WHERE step <= 10 AND dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt, step, from_page_class, to_page_class
ORDER BY dt, step, sessions DESC, from_page_class, to_page_class
