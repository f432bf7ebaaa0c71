"""``raw/events``: Firehose's objects, one partition per arrival hour. Materializing an hour seals it."""


import dagster as dg

from clickstream_assets.defs.freshness.checks import policy
from clickstream_assets.partitions import CALENDAR_START, hour_value, hourly_arrival
from clickstream_assets.sealing import seal_hours
from clickstream_assets.settings import PipelineSettings
from resources.engine import Engine
from resources.metrics import Metrics, points
from resources.storage import Storage

OBSERVED_HOURS = 48


@dg.asset(
    key=["raw", "events"],
    group_name="raw",
    kinds={"s3", "json"},
    partitions_def=hourly_arrival,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=policy("raw", "events"),
    # Two runs sealing the same hour would race on its manifest; deploy/dagster.yaml gives this pool one slot.
    pool="sealing",
)
def raw_events(
    context: dg.AssetExecutionContext,
    storage: Storage,
    engine: Engine,
    settings: PipelineSettings,
    metrics: Metrics,
) -> dg.MaterializeResult:
    """Clickstream events as Firehose delivered them: JSON lines under ``events/YYYY/MM/DD/HH/`` by arrival hour.

    Materializing an hour seals it: a manifest records exactly which objects were taken (key, bytes, records),
    how many records belong to each event day and how many lines do not parse; every line is classified once
    against the event contract into the staging table. Re-sealing an hour replaces its staging whole. An hour
    with no objects seals empty and says so.
    """
    hours = [hour_value(k) for k in context.partition_keys]
    result = seal_hours(storage, engine, hours, CALENDAR_START, log=context.log.info,
                        max_event_age_days=settings.max_event_age_days)
    # One observation per hour that holds records, for the partition's page in the UI, when a run seals a day or
    # two (live sealing). Each event costs a write to the instance (~10 ms on SQLite), so a backfill over months
    # leaves the per-hour figures to the manifests instead of paying for thousands of events.
    observed = [m for m in result.manifests if not m.empty] if len(result.manifests) <= OBSERVED_HOURS else []
    for manifest in observed:
        context.log_event(
            dg.AssetObservation(
                asset_key=context.asset_key,
                partition=f"{manifest.arrival_hour}:00",
                metadata={
                    "objects": len(manifest.objects),
                    "records": manifest.records,
                    "bytes": manifest.bytes,
                    "unparsed_lines": manifest.unparsed,
                    "by_event_day": manifest.by_day,
                    "empty": manifest.empty,
                },
            )
        )
    manifests = result.manifests
    metrics.put([
        p for m in manifests for p in points(
            {"ObjectsLanded": len(m.objects), "RecordsLanded": m.records, "UnparsedLines": m.unparsed},
            Asset="raw/events", Partition=m.arrival_hour,
        ) + points({"BytesLanded": m.bytes}, "Bytes", Asset="raw/events", Partition=m.arrival_hour)
    ])
    empty = [m.arrival_hour for m in manifests if m.empty]
    late_days = sorted({d for m in manifests for d in m.by_day if d < m.arrival_hour[:10]})
    return dg.MaterializeResult(
        metadata={
            "hours_sealed": len(manifests),
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
