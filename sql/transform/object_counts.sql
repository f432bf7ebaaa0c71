-- Lines staged from each raw object of the sealed hours: the seal manifest's per-object record counts where the
-- engine read the objects itself (Athena).
SELECT
    arrival_hour,
    source_object,
    count(*) AS records
FROM staged_events
GROUP BY arrival_hour, source_object
ORDER BY arrival_hour, source_object
