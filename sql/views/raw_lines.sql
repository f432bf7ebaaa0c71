-- The lines being sealed, as transform/stage_raw.sql reads them, where the engine reads the raw objects itself
-- (Athena). Locally the lines are split in memory and handed over with their line numbers; Athena cannot number a
-- file's lines, so line_number is NULL here: a quarantined line is found by its object and its full text.
-- source_object is the object's key in the raw bucket (as locally); the arrival time is the one Firehose writes
-- into the object's name.
SELECT
    regexp_replace("$path", '^s3://[^/]+/', '') AS source_object,
    CAST(NULL AS BIGINT) AS line_number,
    line,
    arrival_hour,
    CAST(date_parse(
        regexp_extract("$path", '-1-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-[^/]*$', 1),
        '%Y-%m-%d-%H-%i-%s'
    ) AS TIMESTAMP) AS arrival_ts
FROM raw_text
