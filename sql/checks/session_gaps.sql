-- Sessions of [:first_day, :last_day] with an idle gap longer than :gap_minutes between two events: trackers
-- start a new session after 30 minutes, so such a session_id was reused or the tracker is misconfigured.
SELECT
    count(DISTINCT session_id) AS sessions,
    count(DISTINCT CASE WHEN gap_seconds > CAST(:gap_minutes AS INTEGER) * 60 THEN session_id END) AS flagged,
    max(gap_seconds) AS longest_gap_seconds
FROM (
    SELECT
        session_id,
        date_diff('second', lag(event_ts) OVER (PARTITION BY session_id ORDER BY event_ts), event_ts) AS gap_seconds
    FROM events
    WHERE dt BETWEEN date(:first_day) AND date(:last_day)
)
