-- Quarantined lines of [:first_day, :last_day] by day and reason code.
SELECT dt, reason, count(*) AS records
FROM quarantine
WHERE dt BETWEEN date(:first_day) AND date(:last_day)
GROUP BY dt, reason
ORDER BY dt, reason
