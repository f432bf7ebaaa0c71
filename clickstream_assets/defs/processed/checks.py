"""What a user would want to know about each build, as asset checks. Plain functions, so tests call them directly.

Blocking checks stop bad data from flowing downstream within the run that built it.
"""

from __future__ import annotations

import dagster as dg
import pyarrow.parquet as pq

from clickstream_assets.contract import REASONS
from clickstream_assets.ledger import DayLedger, SealManifest, stale_days, sum_reasons
from resources.engine import Engine
from resources.storage import Storage

EVENTS = dg.AssetKey(["processed", "events"])
QUARANTINE = dg.AssetKey(["processed", "quarantine"])

EVENT_CHECKS = [
    dg.AssetCheckSpec("contract_and_types", asset=EVENTS, blocking=True,
                      description="Columns and types match the DDL; no row breaks the contract."),
    dg.AssetCheckSpec("event_id_unique", asset=EVENTS, blocking=True,
                      description="Each event_id appears once per day: resends were removed."),
    dg.AssetCheckSpec("counts_reconcile", asset=EVENTS, blocking=True,
                      description="Records taken from raw = clean + duplicates removed + quarantined, exactly."),
    dg.AssetCheckSpec("quarantine_rate", asset=EVENTS,
                      description="Share of records quarantined stays under the configured threshold."),
    dg.AssetCheckSpec("session_gaps", asset=EVENTS,
                      description="Sessions idle longer than the session timeout inside are flagged."),
    dg.AssetCheckSpec("late_records_pending", asset=EVENTS,
                      description="No built day has late records waiting in sealed hours it did not read."),
]
SCAN_CHECKS = [dg.AssetCheckSpec("scan_budget", asset=EVENTS,
                                 description="Bytes scanned stay within the asset's budget (settings.scan_budgets).")]
QUARANTINE_CHECKS = [
    dg.AssetCheckSpec("reasons_known", asset=QUARANTINE, blocking=True,
                      description="Every quarantined line carries one of the contract's reason codes."),
]


def contract_and_types(engine: Engine, storage: Storage, days: list[str]) -> dg.AssetCheckResult:
    table = engine.table_def("events")
    expected = [c.name for c in table.columns]
    wrong_schema = []
    for day, files in engine.data_files("events", days).items():
        for path in files:
            with storage.filesystem().open_input_file(path) as handle:
                if pq.read_schema(handle).names != expected:
                    wrong_schema.append(day)
                    break
    found, _ = engine.query("checks/events_contract.sql", _range(days), partitions={"events": days})
    rows = found.to_pylist()
    problems = {
        k: sum(r[k] for r in rows)
        for k in ("bad_event_id", "bad_event_ts", "bad_event_type", "bad_device_type", "bad_user_type",
                  "null_required", "bad_schema_version", "bad_commerce")
    }
    return dg.AssetCheckResult(
        check_name="contract_and_types",
        asset_key=EVENTS,
        passed=not wrong_schema and not any(problems.values()),
        metadata={"rows_checked": sum(r["rows_checked"] for r in rows), "days_with_wrong_schema":
                  ", ".join(wrong_schema) or "none", **problems},
    )


def event_id_unique(engine: Engine, days: list[str]) -> dg.AssetCheckResult:
    found, _ = engine.query("checks/events_contract.sql", _range(days), partitions={"events": days})
    duplicates = {r["dt"].isoformat(): r["duplicate_event_ids"] for r in found.to_pylist()}
    return dg.AssetCheckResult(
        check_name="event_id_unique",
        asset_key=EVENTS,
        passed=not any(duplicates.values()),
        metadata={"duplicate_event_ids": sum(duplicates.values())},
    )


def counts_reconcile(ledgers: list[DayLedger]) -> dg.AssetCheckResult:
    """Every record taken from raw is clean, a removed duplicate or quarantined: nothing vanishes."""
    broken = [f"{d.dt}: taken {d.taken} != clean {d.clean} + duplicates {d.duplicates} + quarantined "
              f"{d.quarantined}" for d in ledgers if not d.reconciles]
    return dg.AssetCheckResult(
        check_name="counts_reconcile",
        asset_key=EVENTS,
        passed=not broken,
        metadata={
            "taken": sum(d.taken for d in ledgers),
            "clean": sum(d.clean for d in ledgers),
            "duplicates": sum(d.duplicates for d in ledgers),
            "quarantined": sum(d.quarantined for d in ledgers),
            "late": sum(d.late for d in ledgers),
            "gaps": "; ".join(broken) or "none",
        },
    )


# A rate over a handful of records (a day that has only begun, or holds only stragglers) says nothing.
MIN_RECORDS_FOR_RATE = 1000


def quarantine_rate(ledgers: list[DayLedger], threshold: float) -> dg.AssetCheckResult:
    judged = [d for d in ledgers if d.taken >= MIN_RECORDS_FOR_RATE]
    rates = {d.dt: d.quarantined / d.taken for d in judged}
    worst = max(rates.values(), default=0.0)
    return dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key=EVENTS,
        passed=worst <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"worst_day_rate": round(worst, 5), "threshold": threshold,
                  "days_over": ", ".join(d for d, r in rates.items() if r > threshold) or "none",
                  "days_too_small_to_judge": ", ".join(d.dt for d in ledgers if d.taken < MIN_RECORDS_FOR_RATE)
                  or "none"},
    )


def session_gaps(engine: Engine, days: list[str], gap_minutes: int) -> dg.AssetCheckResult:
    found, _ = engine.query(
        "checks/session_gaps.sql", {**_range(days), "gap_minutes": gap_minutes}, partitions={"events": days}
    )
    row = found.to_pylist()[0]
    return dg.AssetCheckResult(
        check_name="session_gaps",
        asset_key=EVENTS,
        passed=not row["flagged"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"sessions": row["sessions"] or 0, "flagged_sessions": row["flagged"] or 0,
                  "longest_gap_seconds": row["longest_gap_seconds"] or 0},
    )


def late_records_pending(storage: Storage, manifests: dict[str, SealManifest]) -> dg.AssetCheckResult:
    stale = stale_days(storage, manifests)
    return dg.AssetCheckResult(
        check_name="late_records_pending",
        asset_key=EVENTS,
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stale_days": ", ".join(sorted(stale)) or "none",
                  "hint": "re-materialize these days of processed/events to take the late records in"},
    )


def reasons_known(ledgers: list[DayLedger]) -> dg.AssetCheckResult:
    seen = sum_reasons(ledgers)
    unknown = sorted(set(seen) - set(REASONS))
    return dg.AssetCheckResult(
        check_name="reasons_known",
        asset_key=QUARANTINE,
        passed=not unknown,
        metadata={**{f"reason_{k}": v for k, v in sorted(seen.items())}, "unknown": ", ".join(unknown) or "none"},
    )


def scan_budget(asset_key: dg.AssetKey, bytes_scanned: int, budget: int) -> dg.AssetCheckResult:
    """A materialization that reads more than its budget fails: a runaway query is a bill, not a detail."""
    return dg.AssetCheckResult(
        check_name="scan_budget",
        asset_key=asset_key,
        passed=bytes_scanned <= budget,
        metadata={"bytes_scanned": bytes_scanned, "budget_bytes": budget,
                  "share_of_budget": round(bytes_scanned / budget, 6) if budget else 0.0},
    )


def scan_budget_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("scan_budget", asset=asset_key,
                             description="Bytes scanned stay within the asset's budget (settings.scan_budgets).")


def _range(days: list[str]) -> dict[str, str]:
    return {"first_day": min(days), "last_day": max(days)}
