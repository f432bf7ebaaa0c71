-- Every session of [:first_day, :last_day] is attributed to exactly one channel and referring site.
WITH traffic AS (
    SELECT coalesce(sum(sessions), 0) AS sessions, count_if(conversion_rate NOT BETWEEN 0 AND 1) AS bad_rates
    FROM traffic_sources_daily
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
),
counted AS (
    SELECT count(*) AS sessions FROM sessions WHERE dt BETWEEN date(:first_day) AND date(:last_day)
)
SELECT abs(t.sessions - c.sessions) + t.bad_rates AS violations, t.sessions AS attributed, c.sessions AS sessions
FROM traffic AS t CROSS JOIN counted AS c
