"""`python -m benchmarks.scale`: 1 billion events a day on the aws profile, worked through on paper.

Measures bytes per event at each hop on this project's own output (a day of simulated traffic through sealing,
clean events and the models), then scales them up. Writes docs/scale.md.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from clickstream_assets.producer.simulator import HOURLY_TRAFFIC
from resources.pricing import (
    ATHENA_USD_PER_TB,
    FIREHOSE_USD_PER_GB,
    S3_USD_PER_GB_MONTH,
    firehose_billed_bytes,
)
from resources.sinks import FIREHOSE_AGGREGATE_RECORD_BYTES

EVENTS_PER_DAY = 1_000_000_000
# Firehose Direct PUT quotas per stream in us-east-1, us-west-2 and eu-west-1 (raisable on request).
FIREHOSE_RECORDS_PER_S, FIREHOSE_REQUESTS_PER_S, FIREHOSE_MIB_PER_S = 500_000, 2_000, 5
RECORDS_PER_CALL = 500
ATHENA_PARTITIONS_PER_STATEMENT = 100
HOURLY_TABLES = 3  # raw_events, raw_text and staged_events: one partition per arrival hour each
TB = 1024**4
GB = 1024**3


@dataclass
class Measured:
    events: int
    raw_bytes: int
    staged_bytes: int
    clean_bytes: int
    model_bytes: int
    clean_step_scanned: int
    models_scanned: int


def measure(events: int = 200_000) -> Measured:
    from clickstream_assets.defs.glue.tables import register
    from clickstream_assets.defs.processed.events import build_days
    from clickstream_assets.defs.processed.models import MODELS
    from clickstream_assets.partitions import hour_of
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.producer.simulator import Mess
    from clickstream_assets.sealing import seal_hours
    from clickstream_assets.settings import load_settings
    from resources.profile import build_resources
    from resources.sinks import LocalFirehoseSink

    day = date(2026, 11, 2)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp)
        produce_historical(LocalFirehoseSink(str(warehouse / "raw"), seed=1), day, 1, events, seed=1,
                           mess=Mess(0.01, 0.005, 0.01, 0.0), now=datetime(2026, 11, 10, tzinfo=timezone.utc))
        res = build_resources("local", warehouse)
        settings = load_settings()
        hours = [hour_of(datetime(2026, 11, 2) + timedelta(hours=h)) for h in range(36)]
        sealed = seal_hours(res["storage"], res["engine"], hours, "2026-11-01")
        built = build_days(res["storage"], res["engine"], settings, [day.isoformat()])
        register(res["catalog"], res["storage"], ["events"], [day.isoformat()])
        model_bytes = models_scanned = 0
        for model in MODELS:
            days = [day.isoformat()] if model.partitioned else []
            params = {"first_day": day.isoformat(), "last_day": day.isoformat()} if days else {}
            params.update(settings.page_params())
            written = res["engine"].materialize(model.sql_file, params, model.name, days)
            register(res["catalog"], res["storage"], [model.name], days)
            model_bytes += written.bytes
            models_scanned += written.stats.bytes_scanned
        return Measured(events, sum(m.bytes for m in sealed.manifests), sealed.staged_bytes,
                        built.clean.bytes + built.quarantined.bytes, model_bytes,
                        built.clean.stats.bytes_scanned + built.quarantined.stats.bytes_scanned, models_scanned)


def daily_tables() -> int:
    """Clean events, quarantine and every daily model."""
    from clickstream_assets.defs.processed.models import MODELS

    return 2 + sum(m.partitioned for m in MODELS)


def plan(m: Measured, events_per_day: int = EVENTS_PER_DAY) -> dict:
    per_event = lambda total: total / m.events  # noqa: E731
    peak_factor = max(HOURLY_TRAFFIC) / (sum(HOURLY_TRAFFIC) / 24)
    avg_records_s = events_per_day / 86_400
    peak_records_s = avg_records_s * peak_factor
    record_bytes = per_event(m.raw_bytes)
    peak_mib_s = peak_records_s * record_bytes / 1024**2
    streams = max(math.ceil(peak_records_s / FIREHOSE_RECORDS_PER_S),
                  math.ceil(peak_records_s / RECORDS_PER_CALL / FIREHOSE_REQUESTS_PER_S),
                  math.ceil(peak_mib_s / FIREHOSE_MIB_PER_S))
    billed = events_per_day * firehose_billed_bytes(record_bytes)
    # Aggregated: whole events packed into records of FIREHOSE_AGGREGATE_RECORD_BYTES (a multiple of 5 KB), each
    # leaving on average half an event of its limit unused.
    per_record = (FIREHOSE_AGGREGATE_RECORD_BYTES - record_bytes / 2) // record_bytes
    aggregated_records = math.ceil(events_per_day / per_record)
    billed_aggregated = aggregated_records * FIREHOSE_AGGREGATE_RECORD_BYTES
    raw_day = events_per_day * record_bytes
    staged_day = events_per_day * per_event(m.staged_bytes)
    clean_day = events_per_day * per_event(m.clean_bytes)
    models_day = events_per_day * per_event(m.model_bytes)
    seal_scan = raw_day  # classifying every raw line reads the JSON once
    clean_scan = events_per_day * per_event(m.clean_step_scanned)
    models_scan = events_per_day * per_event(m.models_scanned)
    return {
        "peak_factor": peak_factor, "avg_records_s": avg_records_s, "peak_records_s": peak_records_s,
        "record_bytes": record_bytes, "peak_mib_s": peak_mib_s, "streams": streams,
        "firehose_usd_day": billed / GB * FIREHOSE_USD_PER_GB,
        "firehose_aggregated_usd_day": billed_aggregated / GB * FIREHOSE_USD_PER_GB,
        "aggregated_records_s": aggregated_records / 86_400 * peak_factor, "events_per_record": per_record,
        "raw_gb_day": raw_day / GB, "staged_gb_day": staged_day / GB, "clean_gb_day": clean_day / GB,
        "models_gb_day": models_day / GB,
        "seal_scan_tb": seal_scan / TB, "clean_scan_tb": clean_scan / TB, "models_scan_tb": models_scan / TB,
        "athena_usd_day": (seal_scan + clean_scan + models_scan) / TB * ATHENA_USD_PER_TB,
        "s3_usd_month_per_day_kept": (raw_day + staged_day + clean_day + models_day) / GB * S3_USD_PER_GB_MONTH,
        "glue_partitions_day": 24 * HOURLY_TABLES + daily_tables(),
        "glue_partitions_year": (24 * HOURLY_TABLES + daily_tables()) * 365,
        "backfill_statements_per_model_year": math.ceil(365 / ATHENA_PARTITIONS_PER_STATEMENT),
    }


def render(m: Measured, p: dict, athena_table: str = "") -> str:
    f = lambda x, d=1: f"{x:,.{d}f}"  # noqa: E731
    return f"""# Scale on paper: 1 billion events a day on the aws profile

Generated by `python -m benchmarks.scale` from bytes measured on this project's own output ({m.events:,} simulated
events through sealing, clean events and every model on this machine), then scaled to 1,000,000,000 events a day.
Prices are us-east-1 list prices from `resources/pricing.py`.

## Measured per event

| hop | bytes per event |
|---|---|
| raw JSON (Firehose objects) | {f(m.raw_bytes / m.events)} |
| staged (every line classified, ZSTD level 1 Parquet) | {f(m.staged_bytes / m.events)} |
| clean events + quarantine (ZSTD Parquet) | {f(m.clean_bytes / m.events)} |
| all models (ZSTD Parquet) | {f(m.model_bytes / m.events)} |
| bytes scanned by the clean step | {f(m.clean_step_scanned / m.events)} |
| bytes scanned by all models | {f(m.models_scanned / m.events)} |

## Delivery: Firehose

- Average rate {f(p['avg_records_s'], 0)} records/s; the daily curve peaks at {f(p['peak_factor'], 2)}× the average,
  so {f(p['peak_records_s'], 0)} records/s and {f(p['peak_mib_s'])} MiB/s at the evening peak.
- Per stream (Direct PUT, us-east-1): {FIREHOSE_RECORDS_PER_S:,} records/s, {FIREHOSE_REQUESTS_PER_S:,} requests/s,
  {FIREHOSE_MIB_PER_S} MiB/s. With {RECORDS_PER_CALL}-record batches the binding limit is bytes:
  **{p['streams']} streams** (or one stream with a raised throughput quota). Shard producers by `session_id` hash so a
  session stays on one stream; every stream writes the same `events/YYYY/MM/DD/HH/` layout in the same bucket.
- Billing rounds each record up to 5 KB: {f(p['record_bytes'], 0)}-byte events sent one per record bill as 5 KB,
  ${f(p['firehose_usd_day'], 2)} a day. The producer aggregates by default (`--aggregate`): whole events packed into
  {FIREHOSE_AGGREGATE_RECORD_BYTES // 1024} KiB records ({f(p['events_per_record'], 0)} events each, which the sealing
  step splits as before), **${f(p['firehose_aggregated_usd_day'], 2)} a day**, and
  {f(p['aggregated_records_s'], 0)} records/s at the peak instead of {f(p['peak_records_s'], 0)}.

## Storage

| data | GB a day |
|---|---|
| raw JSON | {f(p['raw_gb_day'])} |
| staged lines | {f(p['staged_gb_day'])} |
| clean events + quarantine | {f(p['clean_gb_day'])} |
| models | {f(p['models_gb_day'])} |

Keeping a day costs ${f(p['s3_usd_month_per_day_kept'], 2)} a month in S3 Standard; the raw bucket's lifecycle moves
JSON to Standard-IA after 30 days and Glacier IR after 90.

## Athena: bytes scanned and cost a day

| step | TB scanned | $ a day |
|---|---|---|
| sealing (every raw line classified once) | {f(p['seal_scan_tb'], 3)} | {f(p['seal_scan_tb'] * ATHENA_USD_PER_TB, 2)} |
| clean events (staged hours of the day) | {f(p['clean_scan_tb'], 3)} | {f(p['clean_scan_tb'] * ATHENA_USD_PER_TB, 2)} |
| all models | {f(p['models_scan_tb'], 3)} | {f(p['models_scan_tb'] * ATHENA_USD_PER_TB, 2)} |
| **total** | | **{f(p['athena_usd_day'], 2)}** |

The clean and model figures are file sizes (what DuckDB was given); Athena reads only the columns a query uses,
so its bill is lower. Dashboard queries read the models only: `make bench` measured ~8,000× fewer bytes than the
same questions asked of raw JSON.

## Glue

{p['glue_partitions_day']} partitions a day (24 hourly for `raw_events`, `raw_text` and `staged_events` each, one daily for
each of the {daily_tables()} daily tables): {p['glue_partitions_year']:,} a year, registered 100 per `BatchCreatePartition` call,
far inside Glue's 10 million partitions per table and its free first million objects.

## Dagster runs a day

- Sealing: the arrival sensor requests one run per block of arrival days holding closed hours whose objects changed
  (a run re-stages only those hours); live, that is ~24 runs a day, each recording one `raw/events` partition.
- Event days: the latest day follows sealing by declarative automation; older days are re-requested by the arrival
  sensor only when late records reach them (~1-7 a day, one run each, whatever the day's size).
- Models, catalog tables, datasets, dashboard: automation, a few runs a day. Catalog tables are unpartitioned
  (their partitions are registered by the writes), so Dagster records a day once per dataset, not twice.
- Freshness checks: every 5 minutes, 288 light runs.
- Partition work is range-aware (`BackfillPolicy.single_run()`): a 30-day backfill is one run, not 30.

## Which engine runs each step on the aws profile

| step | engine | what the Dagster process does |
|---|---|---|
| sealing | Athena: `stage_raw.sql` over `raw_text` (the raw objects where they lie, GZIP native) | lists the hour folders, writes manifests |
| clean events, quarantine | Athena: one `UNLOAD` each per 100 days | reads manifests, writes day ledgers |
| models | Athena: one `UNLOAD … partitioned_by` per 100 days | reads Parquet footers for counts |
| checks, dashboard datasets | Athena `SELECT`s | reads small results |

## Athena statements and bytes, measured

{athena_table}

A 30-day backfill of a model is one statement that reads its input range once. A day's models read that day (plus
the lookbacks the SQL declares: 30 days for 7/30-day actives and attribution, the whole history for weekly
retention and lifecycle). Here every event arrived in the same two hours, so a day's clean step reads both; live,
a day reads its ~30 arrival hours. Athena writes at most {ATHENA_PARTITIONS_PER_STATEMENT} partitions per `UNLOAD`,
so a year's backfill of one model is {p['backfill_statements_per_model_year']} statements in one Dagster run.
Each write goes to a fresh prefix and the Glue partitions switch to it, so readers never see a partition empty.
"""


def main() -> None:
    from benchmarks.athena_log import measure as athena_measure
    from benchmarks.athena_log import render as athena_render

    measured = measure()
    out = Path(__file__).resolve().parent.parent / "docs" / "scale.md"
    out.write_text(render(measured, plan(measured), athena_render(*athena_measure())))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
