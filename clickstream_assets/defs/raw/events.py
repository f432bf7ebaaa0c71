"""``raw/events``: Firehose's objects, one partition per arrival day. Materializing a day seals its hours."""


import dagster as dg

from clickstream_assets.defs.freshness.checks import policy
from clickstream_assets.partitions import CALENDAR_START, OBSERVED_DAYS, daily_arrival
from clickstream_assets.sealing import seal_days
from clickstream_assets.settings import PipelineSettings
from resources.engine import Engine
from resources.metrics import Metrics, points
from resources.storage import Storage


@dg.asset(
    key=["raw", "events"],
    group_name="raw",
    kinds={"s3", "json"},
    partitions_def=daily_arrival,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=policy("raw", "events"),
    # Two runs sealing the same day would race on its manifest; deploy/dagster.yaml gives this pool one slot.
    pool="sealing",
)
def raw_events(
    context: dg.AssetExecutionContext,
    storage: Storage,
    engine: Engine,
    settings: PipelineSettings,
    metrics: Metrics,
) -> dg.MaterializeResult:
    """Clickstream events as Firehose delivered them: JSON lines under ``events/YYYY/MM/DD/HH/``, one partition per
    arrival day.

    Materializing a day seals its arrival hours: per hour, a manifest records exactly which objects were taken
    (key, bytes, records), how many records belong to each event day and how many lines do not parse; every line
    is classified once against the event contract into the staging table. Sealing a day again re-stages only the
    hours whose objects changed (or whose classification rules did), each replaced whole; hours that never held an
    object cost nothing.
    """
    days = list(context.partition_keys)
    result = seal_days(storage, engine, days, CALENDAR_START, log=context.log.info,
                       max_event_age_days=settings.max_event_age_days)
    # When a run seals a few days, each day's own figures go on its partition page as an observation (the
    # materialization's metadata covers the whole run). Each event costs a write to the instance (~10 ms on
    # SQLite), so a backfill over months leaves the per-day figures to the manifests.
    if 1 < len(days) <= OBSERVED_DAYS:
        for day in days:
            sealed = [m for m in result.manifests if m.arrival_hour.startswith(day)]
            context.log_event(dg.AssetObservation(asset_key=context.asset_key, partition=day, metadata={
                "hours_sealed": len(sealed),
                "objects": sum(len(m.objects) for m in sealed),
                "records": sum(m.records for m in sealed),
                "bytes": sum(m.bytes for m in sealed),
                "unparsed_lines": sum(m.unparsed for m in sealed),
            }))
    manifests = result.manifests
    metrics.put([
        p for m in manifests for p in points(
            {"ObjectsLanded": len(m.objects), "RecordsLanded": m.records, "UnparsedLines": m.unparsed},
            Asset="raw/events", Partition=m.arrival_hour,
        ) + points({"BytesLanded": m.bytes}, "Bytes", Asset="raw/events", Partition=m.arrival_hour)
    ])
    empty = [m.arrival_hour for m in manifests if m.empty]  # hours whose objects were removed since their seal
    late_days = sorted({d for m in manifests for d in m.by_day if d < m.arrival_hour[:10]})
    return dg.MaterializeResult(
        metadata={
            "days": len(days),
            "hours_sealed": len(manifests),
            "hours_unchanged": len(result.unchanged),
            "objects": sum(len(m.objects) for m in manifests),
            "records": dg.MetadataValue.int(sum(m.records for m in manifests)),
            "bytes": dg.MetadataValue.int(sum(m.bytes for m in manifests)),
            "unparsed_lines": sum(m.unparsed for m in manifests),
            "empty_hours": len(empty),
            "empty_hours_listed": ", ".join(empty[:24]) + (f" … and {len(empty) - 24} more" if len(empty) > 24 else "")
            if empty else "none",
            "days_with_late_records": ", ".join(late_days) if late_days else "none",
            "staged_bytes": dg.MetadataValue.int(result.staged_bytes),
            **result.stats.as_metadata(),
        }
    )
