-- Every raw line as delivered, whole, by arrival hour: what sealing classifies on Athena. The RegexSerDe takes the
-- entire line as one string, so nothing is parsed or dropped before the contract (transform/stage_raw.sql) sees
-- it; GZIP objects (.gz) are read natively; "$path" names the object a line came from.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_text (
    line STRING
)
PARTITIONED BY (arrival_hour STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES ('input.regex' = '^(.*)$')
STORED AS TEXTFILE
LOCATION '{raw_events}'
