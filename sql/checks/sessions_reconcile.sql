-- Every clean event belongs to exactly one session row: events of sessions starting in [:first_day, :last_day]
-- (counted from the events) equal the events the session rows hold, and no session appears twice.
WITH firsts AS (
    SELECT session_id, date(min(event_ts)) AS first_day, count(*) AS events
    FROM events
    WHERE dt BETWEEN date(:first_day) AND date_add('day', 1, date(:last_day))
    GROUP BY session_id
),
expected AS (
    SELECT coalesce(sum(events), 0) AS events, count(*) AS sessions
    FROM firsts
    WHERE first_day BETWEEN date(:first_day) AND date(:last_day)
),
actual AS (
    SELECT coalesce(sum(events), 0) AS events, count(*) AS sessions, count(DISTINCT session_id) AS distinct_sessions
    FROM sessions
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
)
SELECT
    abs(e.events - a.events) + abs(e.sessions - a.sessions) + (a.sessions - a.distinct_sessions) AS violations,
    e.events AS events_expected,
    a.events AS events_in_sessions,
    a.sessions AS sessions,
    a.sessions - a.distinct_sessions AS duplicate_sessions
FROM expected AS e CROSS JOIN actual AS a
