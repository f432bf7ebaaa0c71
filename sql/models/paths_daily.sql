-- Page-class transitions of each session starting on a day of [:first_day, :last_day], for a Sankey: a step is a
-- visit to a page class (consecutive events of one class are one step), numbered from the landing page (step 1);
-- each of the first 10 steps goes to the next step's class, or to 'exit' where the session ends. So the sessions
-- at step 1 are all the day's sessions, and each step's sessions are those that got that far.
-- Pages are classed by views/page_events.sql, as in models/sessions.sql.
WITH ordered AS (
    SELECT
        *,
        lag(page_class) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS previous_class,
        min(event_ts) OVER (PARTITION BY session_id) AS session_start
    FROM page_events
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
