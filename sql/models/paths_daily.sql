-- Page-class transitions of each session starting on a day of [:first_day, :last_day], for a Sankey: a step is a
-- visit to a page class (consecutive events of one class are one step), numbered from the landing page (step 1);
-- each of the first 10 steps goes to the next step's class, or to 'exit' where the session ends. So the sessions
-- at step 1 are all the day's sessions, and each step's sessions are those that got that far.
-- Pages are classed by views/page_events.sql, as in models/sessions.sql.
WITH ordered AS (
    -- One ordering of each session's events finds every step at its last event (the next event's class differs,
    -- or there is none), so the transition is read there; numbering those ends counts the steps.
    SELECT
        session_id,
        page_class,
        lead(page_class) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS next_class,
        row_number() OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS position,
        first_value(event_ts) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS session_start
    FROM page_events
),
step_ends AS (
    SELECT
        date(session_start) AS dt,
        row_number() OVER (PARTITION BY session_id ORDER BY position) AS step,
        page_class AS from_page_class,
        coalesce(next_class, 'exit') AS to_page_class
    FROM ordered
    WHERE next_class IS NULL OR next_class <> page_class
)
SELECT step, from_page_class, to_page_class, count(*) AS sessions, dt
FROM step_ends
WHERE step <= 10 AND dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt, step, from_page_class, to_page_class
ORDER BY dt, step, sessions DESC, from_page_class, to_page_class
