-- Every session starting in [:first_day, :last_day] starts a path at step 1, and no step holds more sessions than the step
-- before it.
WITH by_step AS (
    SELECT dt, step, sum(sessions) AS sessions
    FROM paths_daily
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
    GROUP BY dt, step
),
growth AS (
    SELECT count_if(sessions > previous) AS violations
    FROM (SELECT *, lag(sessions) OVER (PARTITION BY dt ORDER BY step) AS previous FROM by_step)
),
starts AS (
    SELECT coalesce(sum(sessions), 0) AS sessions FROM by_step WHERE step = 1
),
counted AS (
    -- Sessions counted from the events themselves: those whose first event falls in the days.
    SELECT count(*) AS sessions
    FROM (
        SELECT session_id
        FROM events
        WHERE dt BETWEEN date(:first_day) AND date_add('day', 1, date(:last_day))
        GROUP BY session_id
        HAVING date(min(event_ts)) BETWEEN date(:first_day) AND date(:last_day)
    )
)
SELECT g.violations + abs(s.sessions - c.sessions) AS violations, s.sessions AS paths_started, c.sessions
FROM growth AS g CROSS JOIN starts AS s CROSS JOIN counted AS c
