-- Page-class transitions of each session starting on a day of [:first_day, :last_day], for a Sankey: a step is a
-- visit to a page class (consecutive events of one class are one step), numbered from the landing page (step 1);
-- each of the first 10 steps goes to the next step's class, or to 'exit' where the session ends. So the sessions
-- at step 1 are all the day's sessions, and each step's sessions are those that got that far.
-- Pages are classed by views/page_events.sql, as in models/sessions.sql.
WITH ordered AS (
    -- One ordering of each session's events finds where each step starts (the previous event's class differs, or
    -- there is none); a second ordering, of those starts alone, numbers the steps and reads each transition to the
    -- next start's class. Classes travel as their number (views/pages.sql), a narrower row to sort; their names
    -- join the counted transitions.
    SELECT
        session_id,
        event_ts,
        class_key,
        lag(class_key) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS previous_key,
        row_number() OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS position
    FROM page_events
),
steps AS (
    -- The first step starts at the session's first event: its start, and so the session's day.
    SELECT
        date(first_value(event_ts) OVER (PARTITION BY session_id ORDER BY position)) AS dt,
        row_number() OVER (PARTITION BY session_id ORDER BY position) AS step,
        class_key,
        lead(class_key) OVER (PARTITION BY session_id ORDER BY position) AS next_key
    FROM ordered
    WHERE previous_key IS NULL OR previous_key <> class_key
),
transitions AS (
    SELECT dt, step, class_key, next_key, count(*) AS sessions
    FROM steps
    WHERE step <= 10 AND dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt, step, class_key, next_key
),
classes AS (
    SELECT DISTINCT class_key, page_class
    FROM pages
)
SELECT
    t.step,
    from_class.page_class AS from_page_class,
    coalesce(to_class.page_class, 'exit') AS to_page_class,
    t.sessions,
    t.dt
FROM transitions AS t
JOIN classes AS from_class ON from_class.class_key = t.class_key
LEFT JOIN classes AS to_class ON to_class.class_key = t.next_key
ORDER BY t.dt, t.step, t.sessions DESC, from_page_class, to_page_class
