-- Users per week and lifecycle state (new, returning, resurrected, dormant, as the model names them).
SELECT
    week,
    state,
    users
FROM lifecycle_weekly
ORDER BY week, state
