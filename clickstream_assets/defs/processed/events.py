"""``processed/events`` and ``processed/quarantine``: every sealed record, clean or quarantined, by event day."""


from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from clickstream_assets.defs.freshness.checks import policy
from clickstream_assets.defs.processed import checks
from clickstream_assets.defs.processed.bookkeeping import failures_counted, query_points
from clickstream_assets.ledger import (
    DayLedger,
    SealManifest,
    hours_by_day,
    hours_holding,
    now_iso,
    read_manifests,
    sum_reasons,
    write_ledgers,
)
from clickstream_assets.lineage import clean_events_lineage, described, table_schema
from clickstream_assets.partitions import OBSERVED_DAYS, daily_event, per_day_detail
from clickstream_assets.settings import PipelineSettings
from resources.engine import Engine, WriteResult
from resources.metrics import Metrics, points
from resources.storage import Storage


@dataclass(frozen=True)
class BuiltDays:
    """What rebuilding some days wrote: a ledger per day, the seal manifests read, and the two writes."""

    ledgers: list[DayLedger]
    manifests: dict[str, SealManifest]
    clean: WriteResult
    quarantined: WriteResult


def build_days(storage: Storage, engine: Engine, settings: PipelineSettings, days: list[str]) -> BuiltDays:
    """Rebuild the clean and quarantine partitions of ``days`` from exactly the sealed hours that hold them."""
    manifests = read_manifests(storage)
    hours = hours_holding(manifests, days)
    params = {"first_day": min(days), "last_day": max(days)}
    # Three statements over the same sealed hours: read once (a half-year's are thousands of small files).
    with engine.reading({"staged_events": hours}) as staged:
        clean = staged.materialize("transform/clean_events.sql", params, "events", days)
        quarantined = staged.materialize("transform/quarantine_events.sql", params, "quarantine", days)
        counts, _ = staged.query("transform/day_counts.sql", {**params, "late_arrival_hours": settings.late_arrival_hours})
    reasons, _ = engine.query("checks/quarantine_reasons.sql", params, partitions={"quarantine": days})
    by_day = {r["dt"].isoformat(): r for r in counts.to_pylist()}
    reasons_by_day: dict[str, dict[str, int]] = {}
    for row in reasons.to_pylist():
        reasons_by_day.setdefault(row["dt"].isoformat(), {})[row["reason"]] = row["records"]
    built_at = now_iso()
    holding = hours_by_day({h: manifests[h] for h in hours})
    ledgers = []
    for day in days:
        row = by_day.get(day, {})
        used = {h: manifests[h].sealed_at for h in holding.get(day, [])}
        ledger = DayLedger(
            dt=day,
            built_at=built_at,
            hours=used,
            taken=sum(manifests[h].by_day.get(day, 0) for h in used),
            clean=clean.partitions[day].rows,
            duplicates=row.get("valid", 0) - row.get("distinct_valid", 0),
            quarantined=quarantined.partitions[day].rows,
            late=row.get("late", 0),
            valid=row.get("valid", 0),
            reasons=reasons_by_day.get(day, {}),
        )
        ledgers.append(ledger)
    write_ledgers(storage, ledgers)
    return BuiltDays(ledgers, manifests, clean, quarantined)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["processed", "events"],
            group_name="processed",
            kinds={"parquet", "sql"},
            partitions_def=daily_event,
            deps=[dg.AssetDep(["raw", "events"])],
            freshness_policy=policy("processed", "events"),
            metadata=described("events", clean_events_lineage()),
            description=(
                "Clean events, one Parquet file per UTC day: every sealed record that passed the contract, typed, "
                "deduplicated by event_id (the earliest arrival wins). A day reads exactly the sealed hours that "
                "hold its events, however late they arrived; re-running a day replaces it whole. The arrival "
                "sensor builds a day when its first records are sealed and again when late ones are: it knows "
                "which days an hour feeds, which a partition mapping from hours to days cannot."
            ),
        ),
        dg.AssetSpec(
            ["processed", "quarantine"],
            group_name="processed",
            kinds={"parquet", "sql"},
            partitions_def=daily_event,
            deps=[dg.AssetDep(["raw", "events"])],
            metadata={"dagster/column_schema": table_schema("quarantine")},
            description=(
                "Records that failed the contract, never dropped: reason code, raw text, source object and line. "
                "Malformed lines belong to the day they arrived."
            ),
        ),
    ],
    check_specs=checks.EVENT_CHECKS + checks.SCAN_CHECKS + checks.QUARANTINE_CHECKS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def clean_events(
    context: dg.AssetExecutionContext, storage: Storage, engine: Engine, settings: PipelineSettings, metrics: Metrics
) -> Iterator:
    days = list(context.partition_keys)
    with failures_counted(metrics, "processed/events"):
        built = build_days(storage, engine, settings, days)
    ledgers, manifests, clean, quarantined = built.ledgers, built.manifests, built.clean, built.quarantined
    batch = [p for d in ledgers for p in points(
        {"RowsClean": d.clean, "RowsDuplicate": d.duplicates, "RowsQuarantined": d.quarantined, "RowsLate": d.late,
         "RecordsTaken": d.taken}, Asset="processed/events", Partition=d.dt)]
    metrics.put(batch + query_points("processed/events", clean, quarantined))
    # Each day's own figures on its partition page when a run builds a few days (the materialization's metadata
    # covers the run); over months each event would cost a write to the instance, and the ledgers hold them anyway.
    for day, ledger in zip(days, ledgers) if len(days) <= OBSERVED_DAYS else ():
        context.log_event(
            dg.AssetObservation(
                asset_key=checks.EVENTS,
                partition=day,
                metadata={"taken": ledger.taken, "clean": ledger.clean, "duplicates": ledger.duplicates,
                          "quarantined": ledger.quarantined, "late": ledger.late, "hours_read": len(ledger.hours)},
            )
        )
    yield dg.MaterializeResult(
        asset_key=checks.EVENTS,
        metadata={
            "days": len(days),
            "rows": dg.MetadataValue.int(clean.rows),
            "bytes": dg.MetadataValue.int(clean.bytes),
            "duplicates_removed": sum(d.duplicates for d in ledgers),
            "late_records": sum(d.late for d in ledgers),
            "hours_read": len({h for d in ledgers for h in d.hours}),
            **per_day_detail(days, described("events", clean_events_lineage())),
            **clean.stats.as_metadata(),
        },
    )
    yield dg.MaterializeResult(
        asset_key=checks.QUARANTINE,
        metadata={"rows": dg.MetadataValue.int(quarantined.rows), "bytes": dg.MetadataValue.int(quarantined.bytes),
                  **{f"reason_{k}": v for k, v in sum_reasons(ledgers).items()}},
    )
    contract = checks.events_contract(engine, days)  # one query answers both checks
    yield checks.contract_and_types(engine, storage, days, contract)
    yield checks.event_id_unique(contract)
    yield checks.counts_reconcile(ledgers)
    yield checks.quarantine_rate(ledgers, settings.quarantine_rate_threshold)
    yield checks.session_gaps(engine, days, settings.session_gap_minutes)
    yield checks.late_records_pending(storage, manifests)
    yield checks.reasons_known(ledgers)
    yield checks.scan_budget(checks.EVENTS, clean.stats.bytes_scanned + quarantined.stats.bytes_scanned,
                             settings.budget_for("processed/events"))

